/**
 * `npm run bench -- <suite> [options]`: benchmark suites. Results go to stdout (a table, or with
 * `--json` one JSON object per metric and line); progress and notes go to stderr.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { findNatsServerBinary } from "../runtime/index.ts";
import { runCore } from "./core.ts";
import { runCoreWithAccounts } from "./core-accounts.ts";
import { runCoreTls } from "./core-tls.ts";
import { runPeers } from "./peers.ts";
import { ECT_PARTS, describeEctRun, parseEctParts, runEct, type EctOptions } from "./ect.ts";
import { comparedTable, jsonLines, progress, valueTable } from "./report.ts";
import { runScale } from "./scale.ts";
import { runFailover } from "./failover.ts";
import { runOverride } from "./override.ts";
import { runResilience } from "./resilience.ts";
import { runHitl } from "./hitl.ts";
import { runTrust } from "./trust.ts";
import { runConsensus } from "./consensus.ts";
import { runAgents } from "./agents.ts";
import { runScenario } from "./agent-scenarios.ts";
import { defaultSvgPath, scenarioTable, writeScenarioSvg } from "./agent-report.ts";
import { SCENARIOS, findScenario, scenarioNames } from "./scenarios/catalogue.ts";

const positiveInt = (value: string): number => {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
};

const describeMachine = (): string => {
  let natsVersion = "?";
  try {
    natsVersion = execFileSync(findNatsServerBinary(), ["--version"], { encoding: "utf8" }).trim();
  } catch {
    /* reported as ? */
  }
  return `node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model ?? "?"}), ${natsVersion}`;
};

/** Other work on the machine skews results: the 1-minute load average is printed with them. */
const loadNote = (atStart: number): string =>
  `load average (1 min): ${atStart.toFixed(2)} at start, ${(loadavg()[0] ?? 0).toFixed(2)} at end`;

const write = (text: string, json: boolean): void => {
  // with --json the table goes to stderr, so stdout carries only JSON lines
  (json ? process.stderr : process.stdout).write(text);
};

const program = new Command("bench")
  .description("Tether benchmarks. Absolute numbers vary ±15–25% between runs on a small machine: compare ratios within one run.")
  .showHelpAfterError();

program
  .command("core")
  .description("tell throughput and ask latency/throughput: Tether vs the fastest raw NATS pattern, across two processes")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "measured rounds (the median is reported)", positiveInt, 3)
  .option("--messages <n>", "tells per round and side", positiveInt, 200_000)
  .option("--requests <n>", "asks per round, side and concurrency level", positiveInt, 20_000)
  .option("--payload <bytes>", "payload bytes in each message", positiveInt, 128)
  .option("--mailbox <n>", "mailbox capacity of the Tether actors (default: the node default)", positiveInt)
  .option("--cpu-prof <dir>", "write V8 CPU profiles of each child process into <dir>/<child>/ (diagnosis; slows the children)")
  .option("--accounts", "also run on a server whose network is a NATS account (node credentials, permissions checked) and report Tether's accounts/plain ratios", false)
  .option("--tls", "instead of the raw comparison: Tether's tell over a TLS nats-server beside a plaintext one (ratio tls / plain, target >= 0.8)", false)
  .action(async (opts: { json: boolean; rounds: number; messages: number; requests: number; payload: number; mailbox?: number; cpuProf?: string; accounts: boolean; tls: boolean }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    if (opts.tls && opts.accounts) throw new InvalidArgumentError("--tls and --accounts are separate runs: give one of them");
    if (opts.tls) {
      // the tell of the core suite over TLS beside the same tell in plaintext (the raw side and asks are the plain suite's)
      const tls = await runCoreTls({ rounds: opts.rounds, messages: opts.messages, payloadBytes: opts.payload, mailboxCapacity: opts.mailbox });
      if (opts.json) process.stdout.write(jsonLines(tls));
      write(`\ncore --tls: ${machine}; ${loadNote(load0)}\nTether tell over TLS (EC P-256, server verified) beside plaintext, ${opts.rounds} rounds (median), ${opts.messages} tells per round; ${opts.payload}-byte payload; ratio = tls / plain\n\n${comparedTable(tls, "plain")}`, opts.json);
      return;
    }
    const coreOptions = {
      rounds: opts.rounds,
      messages: opts.messages,
      requests: opts.requests,
      payloadBytes: opts.payload,
      mailboxCapacity: opts.mailbox,
      cpuProfileDir: opts.cpuProf,
    };
    if (opts.accounts) {
      const { plain, accounts } = await runCoreWithAccounts(coreOptions);
      if (opts.json) process.stdout.write(jsonLines([...plain, ...accounts]));
      write(
        `\ncore: ${machine}; ${loadNote(load0)}\n${opts.rounds} rounds (median), each a plain and an accounts run, alternating; ${opts.messages} tells, ${opts.requests} asks per round; ${opts.payload}-byte payload\n\n` +
          `ratio = tether / raw (plain server)\n${comparedTable(plain)}\n\nratio = tether with accounts + node credentials / tether plain\n${comparedTable(accounts, "plain")}`,
        opts.json,
      );
      return;
    }
    const metrics = await runCore(coreOptions);
    if (opts.json) process.stdout.write(jsonLines(metrics));
    write(
      `\ncore: ${machine}; ${loadNote(load0)}\n${opts.rounds} rounds (median), ${opts.messages} tells, ${opts.requests} asks per round; ${opts.payload}-byte payload; ratio = tether / raw\n\n${comparedTable(metrics)}`,
      opts.json,
    );
  });

program
  .command("peers")
  .description("Tether vs Moleculer 0.15 (JSON serializer) over the same nats-server: asks at 1 and 32 in flight, one-way messages, CPU, service RSS")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "measured rounds (the median is reported)", positiveInt, 3)
  .option("--requests <n>", "asks per round, system and concurrency level", positiveInt, 20_000)
  .option("--events <n>", "one-way messages (tells, events) per round and system", positiveInt, 200_000)
  .option("--payload <bytes>", "payload bytes in each message", positiveInt, 128)
  .action(async (opts: { json: boolean; rounds: number; requests: number; events: number; payload: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runPeers({ rounds: opts.rounds, requests: opts.requests, events: opts.events, payloadBytes: opts.payload });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(
      `\npeers: ${machine}; ${loadNote(load0)}\n${opts.rounds} rounds (median), ${opts.events} one-way messages, ${opts.requests} asks per round; ${opts.payload}-byte payload; ratio = tether / moleculer\n\n${comparedTable(result.metrics, "moleculer")}${result.notes.map((n) => `note: ${n}\n`).join("")}`,
      opts.json,
    );
  });

program
  .command("scale")
  .description("spawn many idle actors on one node: spawn rate, memory per actor, close time")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--actors <n>", "idle actors to spawn", positiveInt, 100_000)
  .option("--concurrency <n>", "spawns in flight", positiveInt, 64)
  .option("--sample <n>", "actors asked at the end", positiveInt, 100)
  .option("--no-expose-gc", "do not re-run under --expose-gc when global.gc is missing")
  .action(async (opts: { json: boolean; actors: number; concurrency: number; sample: number; exposeGc: boolean }) => {
    if (typeof (globalThis as { gc?: unknown }).gc !== "function" && opts.exposeGc) {
      // memory per actor is only meaningful after a full collection: re-run this command with --expose-gc
      process.exitCode = await rerunWithGc();
      return;
    }
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runScale({ actors: opts.actors, concurrency: opts.concurrency, sample: Math.min(opts.sample, opts.actors) });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(`\nscale: ${machine}; ${loadNote(load0)}\n\n${valueTable(result.metrics)}\n${result.notes.map((n) => `note: ${n}`).join("\n")}\n`, opts.json);
  });

program
  .command("ect")
  .description("ECT sign/verify rates vs plain jose; a workflow's step rate, regulated vs relaxed; audit ledger appends vs raw JetStream")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "measured rounds (the median is reported)", positiveInt, 3)
  .option("--only <parts>", `comma-separated parts to run: ${ECT_PARTS.join(",")}`, parseEctParts, [...ECT_PARTS])
  .option("--sequential <n>", "crypto: tokens per sequential round", positiveInt, 3_000)
  .option("--tokens <n>", "crypto: tokens per concurrent round", positiveInt, 10_000)
  .option("--concurrency <n>", "crypto: operations in flight in the concurrent rounds", positiveInt, 64)
  .option("--workflows <n>", "workflow: workflows (3 steps each) per round and profile", positiveInt, 1_000)
  .option("--lanes <n>", "workflow: workflows in flight", positiveInt, 16)
  .option("--records <n>", "ledger: records per round and side", positiveInt, 20_000)
  .option("--window <n>", "ledger: appends in flight", positiveInt, 256)
  .option("--checkpoint-every <n>", "ledger: records per signed checkpoint (default: the ledger's, 100)", positiveInt)
  .action(async (opts: Omit<EctOptions, "parts" | "concurrentTokens"> & { json: boolean; only: EctOptions["parts"]; tokens: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const options: EctOptions = { ...opts, parts: opts.only, concurrentTokens: opts.tokens, checkpointEvery: opts.checkpointEvery };
    const result = await runEct(options);
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(
      `\nect: ${machine}; ${loadNote(load0)}\n${describeEctRun(options)}; ratio = tether / raw\n\n${comparedTable(result.metrics)}${result.notes.map((n) => `note: ${n}\n`).join("")}`,
      opts.json,
    );
  });

program
  .command("failover")
  .description("time from SIGKILL of a node process to its durable actor serving again on a survivor (3-node cluster)")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "kills", positiveInt, 5)
  .option("--lease-ms <ms>", "node lease (failure detection time)", positiveInt, 1_000)
  .action(async (opts: { json: boolean; rounds: number; leaseMs: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runFailover({ rounds: opts.rounds, leaseMs: opts.leaseMs });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(`\nfailover: ${machine}; ${loadNote(load0)}\n\n${valueTable(result.metrics)}\n${result.notes.map((n) => `note: ${n}`).join("\n")}\n`, opts.json);
  });

program
  .command("override")
  .description("emergency stop to 1,000 agents over three node processes on a 3-node cluster: time to each acknowledgement and coverage")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--actors <n>", "agents (spread over three node processes)", positiveInt, 1_000)
  .option("--rounds <n>", "stop/lift rounds", positiveInt, 5)
  .action(async (opts: { json: boolean; actors: number; rounds: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runOverride({ actors: opts.actors, rounds: opts.rounds });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(`\noverride: ${machine}; ${loadNote(load0)}\n\n${valueTable(result.metrics)}\n${result.notes.map((n) => `note: ${n}`).join("\n")}\n`, opts.json);
  });

program
  .command("hitl")
  .description("approval round trip (request → signed decision → action resumes) and workflow step overhead vs the same chain of direct asks")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--approvals <n>", "gated actions approved", positiveInt, 30)
  .option("--rounds <n>", "workflow rounds (the median is reported)", positiveInt, 5)
  .option("--steps <n>", "steps in the chain", positiveInt, 20)
  .action(async (opts: { json: boolean; approvals: number; rounds: number; steps: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runHitl({ approvals: opts.approvals, rounds: opts.rounds, steps: opts.steps });
    if (opts.json) process.stdout.write(jsonLines([...result.values, ...result.compared]));
    write(
      `\nhitl: ${machine}; ${loadNote(load0)}\n${opts.approvals} approvals; ${opts.rounds} rounds of a ${opts.steps}-step chain; ratio = workflow / direct\n\n${valueTable(result.values)}\n${comparedTable(result.compared, "direct")}`,
      opts.json,
    );
  });

program
  .command("trust")
  .description("trust update throughput from the ECT stream (signed action records verified and counted per second) beside the relaxed profile's action rate; explicit signed reports per second")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--actions <n>", "actions (ECT records) per round", positiveInt, 5_000)
  .option("--agents <n>", "agents acting at once", positiveInt, 16)
  .option("--reports <n>", "explicit signed reports (once; 0 skips)", (v) => Number(v), 500)
  .option("--rounds <n>", "measured rounds (the median is reported)", positiveInt, 3)
  .action(async (opts: { json: boolean; actions: number; agents: number; reports: number; rounds: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runTrust({ actions: opts.actions, agents: opts.agents, reports: opts.reports, rounds: opts.rounds });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(`\ntrust: ${machine}; ${loadNote(load0)}\n${opts.rounds} rounds of ${opts.actions} actions by ${opts.agents} agents, then read from the ECT stream; ${opts.reports} explicit reports\n\n${valueTable(result.metrics)}\n`, opts.json);
  });

program
  .command("consensus")
  .description("a consensus round for 5, 25 and 100 voters over three node processes on a 3-node cluster, every vote signed by the voter's own key: p50 per size")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "measured rounds per size (after one warm-up)", positiveInt, 10)
  .option("--sizes <list>", "voters per round, comma-separated", (v: string) => v.split(",").map((x) => positiveInt(x)), [5, 25, 100])
  .action(async (opts: { json: boolean; rounds: number; sizes: number[] }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const result = await runConsensus({ sizes: opts.sizes, rounds: opts.rounds });
    if (opts.json) process.stdout.write(jsonLines(result.metrics));
    write(`\nconsensus: ${machine}; ${loadNote(load0)}\n\n${valueTable(result.metrics)}\n${result.notes.map((n) => `note: ${n}`).join("\n")}\n`, opts.json);
  });

program
  .command("agents")
  .description("agent benchmarks: without a scenario, ctx.act rate under a behavioural profile vs without one (profile_enforcement); with one, per-agent accuracy, latency, efficiency, safety and consistency")
  .argument("[scenario]", `a scenario to run (${scenarioNames().join(", ")})`, (name: string) => findScenario(name).name)
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "profile_enforcement: measured rounds, alternating sides (the median is reported)", positiveInt, 15)
  .option("--actions <n>", "profile_enforcement: actions per round and side", positiveInt, 3_000)
  .option("--runs <n>", "scenario: measured runs (consistency is the variance across them)", positiveInt, 5)
  .option("--tasks <n>", "scenario: tasks per run (default: the scenario's)", positiveInt)
  .option("--seed <n>", "scenario: base seed of the workloads and agents (same seed, same tasks)", positiveInt, 1)
  .option("--svg <path>", "scenario: where to write the chart (default .tether/bench/agents-<scenario>.svg)")
  .option("--no-warmup", "scenario: skip the unmeasured warm-up run")
  .addHelpText("after", `\nScenarios:\n${[...SCENARIOS.values()].map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join("\n")}\n`)
  .action(async (scenarioName: string | undefined, opts: { json: boolean; rounds: number; actions: number; runs: number; tasks?: number; seed: number; svg?: string; warmup: boolean }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    if (scenarioName !== undefined) {
      const scenario = findScenario(scenarioName);
      const report = await runScenario(scenario, { runs: opts.runs, tasks: opts.tasks, seed: opts.seed, warmup: opts.warmup, progress: (line) => progress(`agents ${scenario.name}: ${line}`) });
      if (opts.json) process.stdout.write(jsonLines(report.metrics));
      const svg = writeScenarioSvg(report, opts.svg ?? defaultSvgPath(scenario.name));
      write(
        `\nagents ${scenario.name}: ${machine}; ${loadNote(load0)}\n${scenario.description}\n${report.runs} runs of ${report.tasks} tasks, seed ${report.seed}; latency = ask to reply as the caller sees it; ${report.unit} and violations from the runtime's ECT records\n\n${scenarioTable(report, scenario)}${report.notes.map((n) => `note: ${n}\n`).join("")}\nchart: ${svg}\n`,
        opts.json,
      );
      return;
    }
    const result = await runAgents({ rounds: opts.rounds, actions: opts.actions });
    if (opts.json) process.stdout.write(jsonLines(result));
    write(`\nagents: ${machine}; ${loadNote(load0)}\n${opts.rounds} rounds of ${opts.actions} actions per side; ratio = profiled / bare\n\n${comparedTable(result, "bare")}`, opts.json);
  });

program
  .command("resilience")
  .description("ask through a circuit breaker + bulkhead vs a direct ask, in the same run")
  .option("--json", "one JSON object per metric per line on stdout", false)
  .option("--rounds <n>", "measured rounds (the median is reported)", positiveInt, 3)
  .option("--requests <n>", "asks per round and side", positiveInt, 20_000)
  .option("--in-flight <n>", "asks in flight", positiveInt, 32)
  .action(async (opts: { json: boolean; rounds: number; requests: number; inFlight: number }) => {
    const machine = describeMachine();
    const load0 = loadavg()[0] ?? 0;
    const metrics = await runResilience({ rounds: opts.rounds, requests: opts.requests, inFlight: opts.inFlight });
    if (opts.json) process.stdout.write(jsonLines(metrics));
    write(`\nresilience: ${machine}; ${loadNote(load0)}\nratio = guarded / direct\n\n${comparedTable(metrics)}`, opts.json);
  });

const rerunWithGc = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: "inherit",
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.once("SIGINT", forward).once("SIGTERM", forward);
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
