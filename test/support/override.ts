import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Actor, AuditLedger, OverrideActor, createAuditLedgerDeps, createOverridePorts } from "../../actors/index.ts";
import { OVERRIDE_ACTOR_ID, exportPrivateJwk, generateSigningKey, parseRecord, type KeyRole } from "../../protocols/index.ts";
import { ControlSigner, LedgerStream, saveSigningKey, type ActorContext, type Clock, type Node, type OverrideDecision } from "../../runtime/index.ts";

export const keyDir = mkdtempSync(join(tmpdir(), "tether-override-keys-"));
/** Key file of each signer made here, by kid (to sign with another clock). */
export const keyFiles = new Map<string, string>();

/** A person's key, saved (0600) and published through a signed key-publish. */
export const personKey = async (node: Node, publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<ControlSigner> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${name}-${key.kid.slice(0, 8)}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  keyFiles.set(signer.kid, file);
  const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } } as const;
  await node.controlNode(node.id, request, 10_000, { signer: publisher === "self" ? signer : publisher });
  return signer;
};

/** Owner and operator keys for a fresh network. */
export const operatorKeys = async (node: Node): Promise<{ owner: ControlSigner; operator: ControlSigner; observer: ControlSigner }> => {
  const owner = await personKey(node, "self", "owner", "olivia");
  return { owner, operator: await personKey(node, owner, "operator", "oscar"), observer: await personKey(node, owner, "observer", "otto") };
};

/** The audit ledger and the override actor on `node` (registered for failover too). */
export const startOversight = async (node: Node, options: { clock?: Clock; ledger?: boolean } = {}): Promise<void> => {
  if (options.ledger !== false) await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
  const ports = await createOverridePorts(node, options.clock === undefined ? {} : { clock: options.clock });
  node.registerType(OverrideActor, { args: [ports] });
  await node.spawn(OVERRIDE_ACTOR_ID, OverrideActor, { args: [ports] });
};

export const ledgerEvents = async (node: Node, event: string): Promise<Record<string, unknown>[]> =>
  (await LedgerStream.readAll(node.nats, node.subjects))
    .map((r) => parseRecord(r))
    .flatMap((r) => (r.kind === "event" && r.body.event === event ? [{ ...r.body.details, subject: r.body.subject }] : []));

export const WorkMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("work"), seq: z.number(), ms: z.number() }),
  z.strictObject({ type: z.literal("act"), name: z.string(), dose: z.number().optional() }),
]);
export type WorkMsg = z.infer<typeof WorkMsg>;

/** What every Worker did, by actor id (module state: the test reads it, the actor writes it). */
export const journal = new Map<string, { handled: number[]; aborted: string[] }>();

/**
 * An actor whose `work` waits `ms` (or until its ctx.signal fires), recording the order it handled
 * messages in and why it was aborted; `act` runs one ctx.act (for constrain).
 */
export class Worker extends Actor<WorkMsg, undefined> {
  static override readonly protocol = WorkMsg;
  static override readonly capabilities = ["dispensing"];
  decision: OverrideDecision | undefined;

  constructor(decision?: OverrideDecision) {
    super();
    this.decision = decision;
  }

  async handle(msg: WorkMsg, ctx: ActorContext): Promise<unknown> {
    const j = journal.get(ctx.self) ?? { handled: [], aborted: [] };
    journal.set(ctx.self, j);
    if (msg.type === "act") return ctx.act(msg.name, msg.dose === undefined ? {} : { dose: msg.dose }, () => "done");
    j.handled.push(msg.seq);
    if (msg.ms === 0) return msg.seq;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, msg.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        const reason = ctx.signal.reason as { code?: string };
        j.aborted.push(reason.code ?? "?");
        reject(ctx.signal.reason);
      });
    });
    return msg.seq;
  }

  override onOverride(): OverrideDecision {
    return this.decision ?? { comply: true };
  }
}
