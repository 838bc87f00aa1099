import { NatsServer, Node, silentLogger } from "../runtime/index.ts";
import { GuardedCalls } from "../supervisors/index.ts";
import { Echo } from "./bench-actors.ts";
import { compared, type ComparedMetric } from "./report.ts";
import { median, ownCpuUs } from "./stats.ts";

export interface ResilienceOptions {
  readonly rounds: number;
  readonly requests: number;
  readonly inFlight: number;
}

const log = (line: string) => process.stderr.write(`[bench] resilience: ${line}\n`);

/** Asks at a fixed concurrency; returns requests/s and caller CPU µs per request. */
const drive = async (n: number, inFlight: number, call: (i: number) => Promise<unknown>): Promise<{ rps: number; cpu: number }> => {
  let next = 0;
  const cpu0 = ownCpuUs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) await call(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { rps: n / seconds, cpu: (ownCpuUs() - cpu0) / n };
};

/** Overhead of asking through a circuit breaker + bulkhead vs a direct ask, in the same run. */
export const runResilience = async (options: ResilienceOptions): Promise<ComparedMetric[]> => {
  const server = await NatsServer.start({ name: "bench-resilience" });
  const host = await Node.create({ servers: [server.url], nodeId: "host" }, { logger: silentLogger });
  const caller = await Node.create({ servers: [server.url], nodeId: "caller" }, { logger: silentLogger });
  try {
    await host.spawn("echo", Echo);
    const guard = await GuardedCalls.open(caller);
    const ref = caller.ref<typeof Echo>("echo");
    const payload = new Uint8Array(128);
    const guardOptions = { breaker: { minimumCalls: 100, windowMs: 10_000 }, bulkhead: { maxConcurrent: options.inFlight * 2 } };
    const direct: { rps: number; cpu: number }[] = [];
    const guarded: { rps: number; cpu: number }[] = [];
    await drive(2_000, options.inFlight, (i) => ref.ask({ type: "ping", seq: i, payload })); // warm-up
    await drive(2_000, options.inFlight, (i) => guard.ask<typeof Echo>("echo", { type: "ping", seq: i, payload }, guardOptions));
    const runDirect = async () => direct.push(await drive(options.requests, options.inFlight, (i) => ref.ask({ type: "ping", seq: i, payload })));
    const runGuarded = async () => guarded.push(await drive(options.requests, options.inFlight, (i) => guard.ask<typeof Echo>("echo", { type: "ping", seq: i, payload }, guardOptions)));
    for (let round = 0; round < options.rounds; round++) {
      // alternate which side goes first, so warm-up and drift do not favour one
      if (round % 2 === 0) {
        await runDirect();
        await runGuarded();
      } else {
        await runGuarded();
        await runDirect();
      }
      log(`round ${round + 1}: direct ${direct.at(-1)?.rps.toFixed(0)} req/s, guarded ${guarded.at(-1)?.rps.toFixed(0)} req/s`);
    }
    guard.close();
    return [
      compared("resilience", `guarded_ask_throughput_${options.inFlight}`, "req/s", median(guarded.map((r) => r.rps)), median(direct.map((r) => r.rps)), { op: ">=", value: 0.9 }),
      compared("resilience", `guarded_ask_cpu_per_req_${options.inFlight}`, "µs/req", median(guarded.map((r) => r.cpu)), median(direct.map((r) => r.cpu))),
    ];
  } finally {
    await caller.close();
    await host.close();
    await server.stop();
  }
};
