import { connect } from "@nats-io/transport-node";
import { NatsServer, Node } from "../runtime/index.ts";
import { Idle } from "./bench-actors.ts";
import { CountingLogger } from "./counting-logger.ts";
import { progress, valued, type ValueMetric } from "./report.ts";
import { procRssBytes, sleep, within } from "./stats.ts";

export interface ScaleOptions {
  readonly actors: number;
  /** Spawns in flight at once. */
  readonly concurrency: number;
  /** Actors asked at the end (half through the hosting node, half from a second node over NATS). */
  readonly sample: number;
}

export interface ScaleResult {
  readonly metrics: ValueMetric[];
  readonly notes: string[];
}

const NETWORK = "bench";
/** Issue #7: at most 2 KB per idle actor in the node. */
const GOAL_BYTES_PER_ACTOR = 2048;
const CLOSE_LIMIT_MS = 600_000;

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

/** Runs the collector a few times (when exposed) and lets finalizers settle, then reads memory. */
const settledMemory = async (): Promise<Memory> => {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(100);
  }
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external };
};

/**
 * Suite `scale`: one node in this process spawns many idle actors (bounded concurrency), then
 * reports spawn rate, memory per actor, checks that a sample answers, and times the node's close.
 */
export const runScale = async (options: ScaleOptions): Promise<ScaleResult> => {
  const n = options.actors;
  const gcExposed = typeof (globalThis as { gc?: unknown }).gc === "function";
  const notes: string[] = [
    gcExposed
      ? "memory read after global.gc() (process runs with --expose-gc)"
      : "memory read WITHOUT a forced GC (no --expose-gc): per-actor figures include garbage",
    "rss_per_actor = (rss after spawning − rss before) / actors; heap_per_actor likewise with heapUsed",
    "server_rss_per_actor likewise for the nats-server process; server_rss_share = server / (node + server)",
    "one nats.js subscription per actor (location transparency: the server routes by interest) is ~1.5 KB of node heap by itself",
  ];
  const server = await NatsServer.start({ name: "bench-scale" });
  const logger = new CountingLogger({ role: "scale" });
  let node: Node | undefined;
  let prober: Node | undefined;
  try {
    node = await Node.create({ nodeId: "scale", network: NETWORK, servers: [server.url] }, { logger });
    const host = node;
    const serverRss0 = procRssBytes(server.pid);
    const before = await settledMemory();
    progress(`scale: nats-server ${server.url}; spawning ${n} idle actors, ${options.concurrency} in flight; rss ${mb(before.rss)} MB`);

    let next = 0;
    let spawned = 0;
    let failures = 0;
    let firstFailure: unknown;
    const t0 = performance.now();
    let lastReport = t0;
    const worker = async (): Promise<void> => {
      while (next < n && failures <= 100) {
        const i = next++;
        try {
          await host.spawn(`a${i}`, Idle);
          spawned++;
        } catch (error) {
          failures++;
          firstFailure ??= error;
          continue;
        }
        if (spawned % 10_000 === 0) {
          const now = performance.now();
          progress(
            `scale: spawned ${spawned}/${n} in ${((now - t0) / 1000).toFixed(1)} s (last 10,000: ${Math.round(10_000 / ((now - lastReport) / 1000))} actors/s), rss ${mb(process.memoryUsage().rss)} MB`,
          );
          lastReport = now;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, n) }, worker));
    const spawnMs = performance.now() - t0;
    if (failures > 0) notes.push(`${failures} spawns failed; first: ${String(firstFailure)}`);
    if (spawned === 0) throw new Error(`no actor spawned: ${String(firstFailure)}`);

    const after = await settledMemory();
    const serverRss1 = procRssBytes(server.pid);
    progress(`scale: ${spawned} actors in ${(spawnMs / 1000).toFixed(1)} s; rss ${mb(after.rss)} MB, heap ${mb(after.heapUsed)} MB`);

    // checks, after the memory reading so their own allocations do not count
    const registryEntries = await countRegistryEntries(server.url, host.subjects.registryBucket());
    notes.push(`registry bucket holds ${registryEntries ?? "?"} entries (expected ${spawned} actor keys + 1 node key)`);
    prober = await Node.create({ nodeId: "prober", network: NETWORK, servers: [server.url] }, { logger });
    const remote = prober;
    const sampleIds = Array.from({ length: options.sample }, (_, k) => `a${Math.floor((k * n) / options.sample)}`);
    const answers = await Promise.all(
      sampleIds.map(async (id, k) => {
        const via = k % 2 === 0 ? host : remote;
        try {
          return (await via.ref<typeof Idle>(id).ask({ type: "probe" }, { timeoutMs: 10_000 })) === id;
        } catch (error) {
          progress(`scale: ask to ${id} via ${via.id} failed: ${String(error)}`);
          return false;
        }
      }),
    );
    const answered = answers.filter(Boolean).length;
    await prober.close();
    prober = undefined;

    progress(`scale: closing the node with ${spawned} actors`);
    const c0 = performance.now();
    let closeError: unknown;
    await within(host.close(), CLOSE_LIMIT_MS, "node.close()").catch((error: unknown) => {
      closeError = error;
    });
    const closeMs = performance.now() - c0;
    node = undefined;
    if (closeError !== undefined) notes.push(`close did not complete: ${String(closeError)}`);
    const logged = logger.summary();
    if (logged.length > 0) notes.push(`node log records (warn/error), by message: ${logged.join("; ")}`);

    const metrics: ValueMetric[] = [
      valued("scale", "actors_spawned", "actors", spawned, { op: ">=", value: n }),
      valued("scale", "spawn_rate", "actors/s", spawned / (spawnMs / 1000)),
      valued("scale", "rss_per_actor", "bytes", (after.rss - before.rss) / spawned, { op: "<=", value: GOAL_BYTES_PER_ACTOR }),
      valued("scale", "heap_per_actor", "bytes", (after.heapUsed - before.heapUsed) / spawned),
      valued("scale", "external_per_actor", "bytes", (after.external - before.external) / spawned),
      valued("scale", "rss_after_spawn", "MB", after.rss / 2 ** 20),
      ...(serverRss0 === undefined || serverRss1 === undefined
        ? []
        : serverShare((after.rss - before.rss) / spawned, (serverRss1 - serverRss0) / spawned)),
      valued("scale", "sample_answered", "actors", answered, { op: ">=", value: options.sample }),
      valued("scale", "close_time", "s", closeMs / 1000),
    ];
    return { metrics, notes };
  } finally {
    await prober?.close().catch(() => undefined);
    await node?.close().catch(() => undefined);
    await server.stop();
  }
};

/**
 * What one idle actor costs nats-server (its subscription, in the server's sublist), next to the node's
 * own cost: per-actor bytes, the sum, and the server's share of it.
 */
const serverShare = (nodePerActor: number, serverPerActor: number): ValueMetric[] => [
  valued("scale", "server_rss_per_actor", "bytes", serverPerActor),
  valued("scale", "total_rss_per_actor", "bytes", nodePerActor + serverPerActor),
  valued("scale", "server_rss_share", "%", (100 * serverPerActor) / (nodePerActor + serverPerActor)),
];

/** Entries in the registry's KV stream, read with a plain connection from the JetStream API. */
const countRegistryEntries = async (url: string, bucket: string): Promise<number | undefined> => {
  const nc = await connect({ servers: [url], name: "bench-scale-check" });
  try {
    const reply = await nc.request(`$JS.API.STREAM.INFO.KV_${bucket}`, "", { timeout: 10_000 });
    return (reply.json() as { state?: { messages?: number } }).state?.messages;
  } catch {
    return undefined;
  } finally {
    await nc.close();
  }
};

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
