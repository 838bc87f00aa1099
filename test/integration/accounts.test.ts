import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { encodeSend, networkSubjects, parseRecord, verifyLedger } from "../../protocols/index.ts";
import { LedgerStream, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startAccountsServer, type AccountsServer } from "../support/accounts.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-accounts-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));
const regulated = { assurance: { profile: "regulated", keyDir } } as NodeOptionsInput;

const A = networkSubjects("alpha");
const B = networkSubjects("beta");

/** Collects the permission violations the server reports on `nc` (its status stream). */
const watchViolations = (nc: NatsConnection): Array<{ operation: string; subject: string }> => {
  const seen: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && s.error instanceof errors.PermissionViolationError) seen.push({ operation: s.error.operation, subject: s.error.subject });
    }
  })();
  return seen;
};

/** Publishes (or subscribes) as the attacker and waits until the server reports a permission violation for exactly that subject. */
const expectDenied = async (nc: NatsConnection, seen: Array<{ operation: string; subject: string }>, op: "publish" | "subscription", subject: string) => {
  if (op === "publish") nc.publish(subject, new TextEncoder().encode('{"forged":true}'));
  else nc.subscribe(subject, { callback: () => undefined });
  await nc.flush();
  await eventually(() => seen.some((v) => v.operation === op && v.subject === subject), 5_000, `${op} ${subject} denied`);
};

/** Every stream of the account with its last sequence: equal before and after means nothing was written or deleted. */
const snapshot = async (nc: NatsConnection): Promise<Record<string, number>> => {
  const jsm = await jetstreamManager(nc);
  const out: Record<string, number> = {};
  for await (const info of jsm.streams.list()) out[info.config.name] = info.state.last_seq;
  return out;
};

/** A node of `network` holding node credentials, with heartbeats slow enough that the streams hold still during the attacks. */
const nodeOf = (server: AccountsServer, network: string, identity: string): Promise<Node> =>
  startNode(server.url, { network, credentials: server.accounts.credentials(network, identity), heartbeatMs: 60_000, leaseTtlMs: 120_000 });

/** Every subject an attacker would write to in network `s`, by what it would damage. */
const targets = (s: typeof A, nodeId: string): Array<[string, string]> => [
  ["control", s.node(nodeId)],
  ["registry", `$KV.${s.registryBucket()}.actor.worker`],
  ["ledger", s.audit()],
  ["ledger anchors", s.auditAnchor("checkpoint")],
  ["keys", `$KV.${s.keysBucket()}.key.forged`],
  ["breakers", `$KV.${s.breakersBucket()}.b.worker`],
  ["dead letters", s.deadLetter("ERR_FORGED")],
  ["durable lane", s.durable("worker")],
  ["failures", s.failures("worker")],
  ["replies", s.reply(nodeId, "forged")],
  ["stream delete", `$JS.API.STREAM.DELETE.${s.deadLetterStream()}`],
  ["bucket delete", `$JS.API.STREAM.DELETE.KV_${s.registryBucket()}`],
  ["stream purge", `$JS.API.STREAM.PURGE.${s.auditStream()}`],
];

describe("networks as NATS accounts (server-enforced isolation)", () => {
  it("runs a node end to end with node credentials: spawn, ask across two nodes, and a client-role ask", async () => {
    await using server = await startAccountsServer(["alpha"]);
    await using n1 = await nodeOf(server, "alpha", "node-1");
    await using n2 = await nodeOf(server, "alpha", "node-2");
    await n1.spawn("worker", Counter);
    expect(await n1.ref<typeof Counter>("worker").ask({ type: "add", n: 2 })).toBe(2);
    expect(await n2.ref<typeof Counter>("worker").ask({ type: "add", n: 3 })).toBe(5);
    const client = await server.connectAs("alpha", "client");
    try {
      const reply = await client.request(A.actor("worker"), encodeSend("ask", "client-ask-0000000001", "raw-client", false, { type: "get" }), { timeout: 5_000 });
      expect(readAnswer(reply.data)).toEqual({ ok: true, value: 5 });
    } finally {
      await client.close();
    }
  }, 60_000);

  it("hosts the audit ledger on the ledger identity: a regulated node with node credentials gets its actions recorded", async () => {
    await using server = await startAccountsServer(["alpha"]);
    await using ledger = await startNode(server.url, { network: "alpha", credentials: server.accounts.credentials("alpha", "ledger"), ...regulated });
    await ledger.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(ledger, { keyDir, checkpointEvery: 2 })] });
    await using node = await startNode(server.url, { network: "alpha", credentials: server.accounts.credentials("alpha", "node-1"), ...regulated });
    await node.spawn("intake", Stepper);
    const hops = [{ actor: "intake", action: "review_requirements_spec" }];
    expect((await node.ref<typeof Stepper>("intake").ask({ type: "step", hops })).actions).toEqual(["review_requirements_spec"]);
    await ledger.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    const records = (await LedgerStream.readAll(ledger.nats, ledger.subjects)).map((r) => parseRecord(r));
    expect(records.some((r) => r.kind === "ect" && r.body.exec_act === "review_requirements_spec")).toBe(true);
    expect(await verifyLedger(records, { resolveKey: (kid) => ledger.assurance.keys.resolve(kid) })).toMatchObject({ ok: true });
  }, 60_000);

  it("denies a client-role identity every subject but the actors, and its attempts change nothing", async () => {
    await using server = await startAccountsServer(["alpha"]);
    await using node = await nodeOf(server, "alpha", "node-1");
    await node.spawn("worker", Counter);
    await node.ref<typeof Counter>("worker").ask({ type: "add", n: 7 });
    const operator = await server.connectAs("alpha", "operator");
    const attacker = await server.connectAs("alpha", "client");
    try {
      const before = await snapshot(operator);
      expect(Object.keys(before)).toEqual(expect.arrayContaining([A.deadLetterStream(), A.durableStream(), `KV_${A.registryBucket()}`, `KV_${A.keysBucket()}`, `KV_${A.stateBucket()}`]));
      const seen = watchViolations(attacker);
      for (const [, subject] of targets(A, node.id)) await expectDenied(attacker, seen, "publish", subject);
      await expectDenied(attacker, seen, "publish", "$JS.API.STREAM.INFO.TETHER_alpha_DLQ");
      await expectDenied(attacker, seen, "publish", `$JS.API.STREAM.CREATE.${A.auditStream()}`);
      for (const subject of [A.allActors(), "tether.alpha.>", A.replyInbox(node.id), `$KV.${A.keysBucket()}.>`, ">"]) await expectDenied(attacker, seen, "subscription", subject);
      // the JetStream API refuses it too (a request, not just a publish)
      await expect(attacker.request(`$JS.API.STREAM.DELETE.${A.deadLetterStream()}`, undefined, { timeout: 2_000 })).rejects.toThrow(/Permissions Violation|permission/i);
      expect(await snapshot(operator)).toEqual(before);
      expect(await node.ref<typeof Counter>("worker").ask({ type: "get" })).toBe(7);
    } finally {
      await attacker.close();
      await operator.close();
    }
  }, 60_000);

  it("denies a node identity the ledger, stream deletes and purges, and another network; the ledger identity may write the ledger", async () => {
    await using server = await startAccountsServer(["alpha", "beta"]);
    const attacker = await server.connectAs("alpha", "node-2");
    const ledger = await server.connectAs("alpha", "ledger");
    try {
      const seen = watchViolations(attacker);
      for (const subject of [
        A.audit(),
        A.auditAnchor("head"),
        `$JS.API.STREAM.CREATE.${A.auditStream()}`,
        `$JS.API.STREAM.UPDATE.${A.auditAnchorStream()}`,
        `$JS.API.STREAM.DELETE.${A.deadLetterStream()}`,
        `$JS.API.STREAM.PURGE.${A.durableStream()}`,
        `$JS.API.STREAM.MSG.DELETE.${A.auditStream()}`,
        B.actor("worker"),
        B.node("n1"),
      ]) {
        await expectDenied(attacker, seen, "publish", subject);
      }
      await expectDenied(attacker, seen, "subscription", "tether.beta.>");
      const ledgerSeen = watchViolations(ledger);
      ledger.publish(A.audit(), new TextEncoder().encode("{}"));
      await ledger.flush();
      expect(ledgerSeen).toEqual([]);
    } finally {
      await attacker.close();
      await ledger.close();
    }
  }, 60_000);

  it("isolates networks: another network's operator, with every right in its own account, reaches nothing of this one", async () => {
    await using server = await startAccountsServer(["alpha", "beta"]);
    await using node = await nodeOf(server, "alpha", "node-1");
    await node.spawn("worker", Counter);
    await node.ref<typeof Counter>("worker").ask({ type: "add", n: 4 });
    const operator = await server.connectAs("alpha", "operator");
    const outsider = await server.connectAs("beta", "operator");
    try {
      const before = await snapshot(operator);
      // the same subjects exist in beta's account, but nothing of alpha's is behind them
      for (const [, subject] of targets(A, node.id)) outsider.publish(subject, new TextEncoder().encode('{"forged":true}'));
      await expect(outsider.request(A.actor("worker"), encodeSend("ask", "outsider-ask-00000001", "raw-client", false, { type: "add", n: 100 }), { timeout: 2_000 })).rejects.toThrow(/no responders|timeout/i);
      const jsm = await jetstreamManager(outsider);
      await expect(jsm.streams.delete(A.deadLetterStream())).rejects.toThrow(/not found/i);
      await expect(jsm.streams.info(`KV_${A.registryBucket()}`)).rejects.toThrow(/not found/i);
      expect(await snapshot(operator)).toEqual(before);
      expect(await node.ref<typeof Counter>("worker").ask({ type: "get" })).toBe(4);
      // traffic in alpha (an ask, its reply, registry and stream writes) that beta must not hear
      const heard: string[] = [];
      outsider.subscribe(">", {
        callback: (_e, m) => {
          heard.push(m.subject);
        },
      });
      await outsider.flush();
      await node.ref<typeof Counter>("worker").ask({ type: "get" });
      await node.spawn("second", Counter);
      await outsider.flush();
      expect(heard).toEqual([]);
    } finally {
      await outsider.close();
      await operator.close();
    }
  }, 60_000);

  it("caps each network's storage at its account's budget: a network too small for a node's streams fails alone", async () => {
    await using server = await startAccountsServer(["alpha", "tiny"], { tiny: 100 });
    // a node reserves 160 MiB per replica by default; tiny's account allows 100 MiB
    await expect(nodeOf(server, "tiny", "node-1")).rejects.toThrow(/insufficient storage|resources/i);
    await using node = await nodeOf(server, "alpha", "node-1");
    await node.spawn("worker", Counter);
    expect(await node.ref<typeof Counter>("worker").ask({ type: "add", n: 1 })).toBe(1);
  }, 60_000);

  it("refuses a node without credentials, and a missing credentials file with its own code", async () => {
    await using server = await startAccountsServer(["alpha"]);
    await expect(startNode(server.url, { network: "alpha" })).rejects.toMatchObject({ code: "ERR_TRANSPORT_FAILED" });
    await expect(startNode(server.url, { network: "alpha", credentials: "/nonexistent/node.creds" })).rejects.toMatchObject({ code: "ERR_CREDENTIALS_INVALID" });
  }, 30_000);
});
