import type { Command } from "commander";
import { OverrideClient, type Coverage, type OverrideInput, type OverrideOutcome } from "../actors/index.ts";
import { OverrideConstraints, OverrideLevel, TetherError, type OverrideAction, type OverrideScopeInput } from "../protocols/index.ts";
import { ControlSigner, HumanWork, silentLogger } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

interface ScopeFlags {
  agent?: string;
  workflow?: string;
  subtree?: string;
  members?: string;
  capability?: string;
  node?: string;
  network?: boolean;
}

interface SignalFlags extends ScopeFlags {
  nats: string;
  net: string;
  reason: string;
  level?: string;
  signer: string;
  deadline: string;
  onLift?: string;
  set?: string[];
  from?: string;
  json?: boolean;
}

/** The one scope flag given (exactly one is required). */
export const scopeOf = (f: ScopeFlags): OverrideScopeInput => {
  const given: OverrideScopeInput[] = [];
  if (f.agent !== undefined) given.push({ kind: "agent", id: f.agent });
  if (f.workflow !== undefined) given.push({ kind: "workflow", wid: f.workflow });
  if (f.subtree !== undefined) given.push({ kind: "subtree", id: f.subtree, members: f.members === undefined ? [] : f.members.split(",").filter((m) => m !== "") });
  if (f.capability !== undefined) given.push({ kind: "capability", capability: f.capability });
  if (f.node !== undefined) given.push({ kind: "node", id: f.node });
  if (f.network === true) given.push({ kind: "network" });
  const [scope] = given;
  if (scope === undefined || given.length > 1) throw new TetherError("ERR_CONFIG_INVALID", "give exactly one of --agent, --workflow, --subtree, --capability, --node, --network");
  return scope;
};

/** `--set allowedActions=a,b --set maxActsPerSecond=5 --set dose.max=10` as constraints. */
export const constraintsOf = (sets: readonly string[]): OverrideConstraints => {
  const out: { allowedActions?: string[]; maxActsPerSecond?: number; bounds?: Record<string, { min?: number; max?: number }> } = {};
  for (const item of sets) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new TetherError("ERR_CONFIG_INVALID", `--set takes key=value, got ${item}`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === "allowedActions") out.allowedActions = value.split(",").filter((a) => a !== "");
    else if (key === "maxActsPerSecond") out.maxActsPerSecond = Number(value);
    else if (/\.(min|max)$/.test(key)) {
      const param = key.slice(0, key.lastIndexOf("."));
      const bound = key.slice(key.lastIndexOf(".") + 1) as "min" | "max";
      out.bounds = { ...out.bounds, [param]: { ...out.bounds?.[param], [bound]: Number(value) } };
    } else throw new TetherError("ERR_CONFIG_INVALID", `unknown constraint ${key} (allowedActions, maxActsPerSecond, <param>.min, <param>.max)`);
  }
  const parsed = OverrideConstraints.safeParse(out);
  if (!parsed.success) throw new TetherError("ERR_CONFIG_INVALID", `invalid constraints: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  return parsed.data;
};

const line = (c: Coverage): string =>
  c.expected === null ? `${c.acked.size} acknowledged (expected set not known)` : `${c.expected.length - c.missing.length}/${c.expected.length} acknowledged`;

/** Prints coverage as acknowledgements arrive, then the result; exits non-zero (ERR_OVERRIDE_NOT_ACKNOWLEDGED) when escalated. */
const follow = async (json: boolean | undefined, run: (onAck: (c: Coverage) => void) => Promise<OverrideOutcome>): Promise<void> => {
  const outcome = await run((c) => {
    if (!json) process.stderr.write(`  ${line(c)}\n`);
  });
  const c = outcome.coverage;
  if (json) {
    process.stdout.write(`${JSON.stringify({ id: outcome.id, expected: c.expected, acked: [...c.acked.values()], missing: c.missing, fraction: c.fraction, escalated: outcome.escalated, result: outcome.reply.result })}\n`);
  } else {
    process.stdout.write(`override ${outcome.id}: ${line(c)}${c.missing.length > 0 ? `; missing: ${c.missing.slice(0, 50).join(", ")}${c.missing.length > 50 ? ", …" : ""}` : ""}\n`);
    if (outcome.reply.result !== undefined) process.stdout.write(`${JSON.stringify(outcome.reply.result, null, 2)}\n`);
  }
  if (outcome.escalated) throw new TetherError("ERR_OVERRIDE_NOT_ACKNOWLEDGED", `${c.missing.length} actor(s) did not acknowledge override ${outcome.id} by the deadline; escalated`);
};

const withScope = (c: Command): Command =>
  c
    .option("--agent <id>", "one agent")
    .option("--workflow <wid>", "the actors working on this workflow id now")
    .option("--subtree <id>", "a supervisor and every actor under it, transitively, wherever it runs (resolved from the tree)")
    .option("--members <ids>", "comma-separated actors added to --subtree (needed when its root is not a running supervisor)")
    .option("--capability <c>", "agents advertising this capability")
    .option("--node <id>", "every agent on this node")
    .option("--network", "every agent of the network");

const signed = (c: Command): Command =>
  jsonFlag(
    c
      .addOption(natsOption())
      .option("--net <name>", "network name", "default")
      .requiredOption("--signer <file>", "private key file of an operator, admin or owner (recorded)")
      .option("--deadline <ms>", "acknowledgement deadline before escalation", "5000"),
  );

/** `tether stop|pause|resume|rollback|takeover|constrain` and `tether overrides ls|lift|queue|done`. */
export const registerOverrideCommands = (program: Command): void => {
  const signal = (action: OverrideAction, description: string, example: string) => {
    const c = signed(withScope(examples(program.command(action).description(description), example)))
      .requiredOption("--reason <text>", "why (recorded)")
      .option("--level <level>", "advisory | mandatory | emergency (default: emergency for stop/takeover, else mandatory)");
    if (action === "stop") c.option("--on-lift <what>", "release | dead-letter: what lifting does with the kept messages", "release");
    if (action === "constrain") c.option("--set <key=value...>", "allowedActions=a,b  maxActsPerSecond=N  <param>.min=N  <param>.max=N");
    if (action === "rollback") c.option("--from <jti>", "only this action and what it caused");
    c.action((flags: SignalFlags) =>
      withConnection(flags, async (nc) => {
        const signer = await ControlSigner.fromKeyFile(flags.signer, flags.net);
        const scope = scopeOf(flags);
        const level = flags.level === undefined ? undefined : OverrideLevel.parse(flags.level);
        const input: OverrideInput = {
          action,
          scope,
          reason: flags.reason,
          ackDeadlineMs: Number(flags.deadline),
          ...(level === undefined ? {} : { level }),
          ...(flags.onLift === "dead-letter" ? { onLift: "dead-letter" as const } : {}),
          ...(action === "constrain" ? { constraints: constraintsOf(flags.set ?? []) } : {}),
          ...(action === "rollback" && scope.kind === "workflow" ? { rollback: { workflow: scope.wid, ...(flags.from === undefined ? {} : { from: flags.from }) } } : {}),
        };
        await follow(flags.json, (onAck) => new OverrideClient({ nc, signer }).issue(input, onAck));
      }),
    );
  };
  signal("stop", "emergency stop: abort the handler in flight, keep the queue, refuse new work until lifted", 'tether stop --agent pharmacist --reason "wrong dose" --signer ops.jwk');
  signal("pause", "finish the current message, then hold the mailbox until resumed", 'tether pause --capability dispensing --reason "audit" --signer ops.jwk');
  signal("resume", "lift the pauses of the same scope (--network: every pause)", 'tether resume --capability dispensing --reason "audit done" --signer ops.jwk');
  signal("constrain", "tighten an agent at run time: allowed actions, rate, parameter bounds", "tether constrain --agent pharmacist --set allowedActions=dispense --set dose.max=10 --reason cap --signer ops.jwk");
  signal("rollback", "compensate a workflow's completed actions (the rollback coordinator)", 'tether rollback --workflow wf-42 --reason "bad batch" --signer ops.jwk');
  signal("takeover", "a human takes the agent's task: its in-flight and queued work go to the human work queue", 'tether takeover --agent pharmacist --reason "manual" --signer ops.jwk');

  const overrides = program.command("overrides").description("active overrides and the human work queue");
  const common = (c: Command) => c.addOption(natsOption()).option("--net <name>", "network name", "default");
  jsonFlag(common(examples(overrides.command("ls").description("list active overrides"), "tether overrides ls --signer ops.jwk")).requiredOption("--signer <file>", "any published key file (names the network)")).action(
    (flags: { nats: string; net: string; signer: string; json?: boolean }) =>
      withConnection(flags, async (nc) => {
        const signer = await ControlSigner.fromKeyFile(flags.signer, flags.net);
        const rows = (await new OverrideClient({ nc, signer }).list()) as { id: string; signal: { action: string; level: string; scope: unknown; reason: string }; by: { owner: string }; at: number; expected: number | null }[];
        printRows(flags.json, rows, {
          head: ["ID", "ACTION", "LEVEL", "SCOPE", "BY", "SINCE", "EXPECTED", "REASON"],
          cells: (r) => [r.id, r.signal.action, r.signal.level, JSON.stringify(r.signal.scope), r.by.owner, new Date(r.at).toISOString(), String(r.expected ?? "?"), r.signal.reason],
          empty: "no active overrides",
        });
      }),
  );
  signed(examples(overrides.command("lift"), "tether overrides lift 4kXq... --dead-letter --signer ops.jwk").argument("<id>").description("lift an active override (a stop's kept messages: released, or --dead-letter)"))
    .option("--dead-letter", "dead-letter what the stop kept instead of releasing it")
    .option("--reason <text>", "why (recorded)", "")
    .action((id: string, flags: SignalFlags & { deadLetter?: boolean }) =>
      withConnection(flags, async (nc) => {
        const signer = await ControlSigner.fromKeyFile(flags.signer, flags.net);
        await follow(flags.json, (onAck) =>
          new OverrideClient({ nc, signer }).lift(id, { reason: flags.reason, ackDeadlineMs: Number(flags.deadline), ...(flags.deadLetter === true ? { disposition: "dead-letter" as const } : {}) }, onAck),
        );
      }),
    );
  jsonFlag(common(examples(overrides.command("queue").description("the human work queue: tasks taken over from agents"), "tether overrides queue"))).action((flags: { nats: string; net: string; json?: boolean }) =>
    withConnection(flags, async (nc) => {
      const work = await HumanWork.open(nc, flags.net, { replicas: 1, logger: silentLogger });
      printRows(flags.json, await work.list(), {
        head: ["TASK", "OVERRIDE", "ACTOR", "MESSAGE", "TYPE", "ASKER", "BODY"],
        cells: (t) => [t.taskId, t.overrideId, t.actorId, t.messageId, t.messageType ?? "", t.awaitsReply === true ? "waits" : "-", JSON.stringify(t.body).slice(0, 80)],
        empty: "the human work queue is empty",
      });
    }),
  );
  common(examples(overrides.command("done"), "tether overrides done <task> '{\"dispensed\":0}' --signer ops.jwk").argument("<task>").argument("<result>", "the human's result (JSON)").description("complete a human task; its result is recorded as the outcome"))
    .requiredOption("--signer <file>", "your key file (names the network; its owner is recorded)")
    .action((task: string, result: string, flags: { nats: string; net: string; signer: string }) =>
      withConnection(flags, async (nc) => {
        const signer = await ControlSigner.fromKeyFile(flags.signer, flags.net);
        let value: unknown;
        try {
          value = JSON.parse(result);
        } catch {
          value = result;
        }
        const done = (await new OverrideClient({ nc, signer }).completeTask(task, value)) as { answered?: boolean };
        process.stdout.write(`task ${task} completed; result recorded${done.answered === true ? "; the waiting asker was answered with it" : ""}\n`);
      }),
    );
};
