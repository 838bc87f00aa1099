import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrustClient } from "../actors/index.ts";
import { NatsServer, Node, silentLogger } from "../runtime/index.ts";
import { valued, type ValueMetric } from "./report.ts";
import { median } from "./stats.ts";

export interface TrustBenchOptions {
  readonly reports: number;
  readonly rounds: number;
  readonly inFlight: number;
}

const log = (line: string) => process.stderr.write(`[bench] trust: ${line}\n`);

/**
 * Trust update throughput: signed reports (each minted as an ECT by the observer's node, verified by the
 * trust actor, counted, answered by an assertion ECT, checkpointed) from one node to the trust actor on
 * another, standard profile, `inFlight` reports outstanding. Reported: accepted reports per second
 * (median of the rounds).
 */
export const runTrust = async (options: TrustBenchOptions): Promise<{ metrics: ValueMetric[] }> => {
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-trust-"));
  const server = await NatsServer.start({ name: "bench-trust" });
  const assurance = { profile: "standard" as const, keyDir };
  const host = await Node.create({ servers: [server.url], nodeId: "trust-host", assurance }, { logger: silentLogger });
  const observerNode = await Node.create({ servers: [server.url], nodeId: "observer", assurance }, { logger: silentLogger });
  try {
    await new TrustClient({ limits: { seen: 1_000_000, agents: 1_000 } }).attach(host).start();
    const observer = new TrustClient().use(observerNode);
    const rates: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      let next = 0;
      const start = performance.now();
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= options.reports) return;
          await observer.report(`observer-${i % 16}`, { subject: `agent-${i % 50}`, outcome: i % 3 === 0 ? "failure" : "success" });
        }
      };
      await Promise.all(Array.from({ length: options.inFlight }, worker));
      const rate = options.reports / ((performance.now() - start) / 1000);
      rates.push(rate);
      log(`round ${round + 1}: ${rate.toFixed(0)} reports/s`);
    }
    return { metrics: [valued("trust", "trust_update_rate", "reports/s", median(rates))] };
  } finally {
    await observerNode.close().catch(() => undefined);
    await host.close().catch(() => undefined);
    await server[Symbol.asyncDispose]().catch(() => undefined);
    rmSync(keyDir, { recursive: true, force: true });
  }
};
