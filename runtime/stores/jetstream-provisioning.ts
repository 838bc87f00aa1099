import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
import { TetherError } from "../../protocols/index.ts";
import { systemClock, type Clock } from "../support/clock.ts";
import { withWriteRetry } from "./kv-write-retry.ts";

export interface ProvisionOptions {
  /** Give up after this long. Default 30 s (a fresh 3-server cluster elects stream leaders well within it). */
  readonly deadlineMs?: number;
  /** Timeout of the first JetStream API request of an attempt; doubles per attempt up to 8 s. Default 2 s. */
  readonly attemptTimeoutMs?: number;
  /** Timeout of the JetStream requests the returned KV makes later. Default: the client's (5 s). */
  readonly timeoutMs?: number;
  /**
   * For the deadline and the pauses between attempts. Default: the system clock, also under a node on a
   * fake clock: these are waits for a real server, which a fake clock that nobody advances would hang.
   */
  readonly clock?: Clock;
}

/**
 * Creates a stream, or opens it when it exists (whatever its configuration), and returns once it has a
 * leader. Every node of a network calls this for the same streams at start, so it must hold up when
 * they all do it at the same moment on a fresh server or cluster (see `provision`).
 */
export const ensureStream = (nc: NatsConnection, config: Partial<StreamConfig> & { name: string }, options: ProvisionOptions = {}): Promise<StreamInfo> =>
  provision(`stream ${config.name}`, options, async (timeout) => {
    const jsm = await jetstreamManager(nc, { timeout });
    const existing = await jsm.streams.info(config.name).catch((error: unknown) => {
      if (errorName(error) === "StreamNotFoundError") return undefined;
      throw error;
    });
    return existing ?? (await jsm.streams.add(config));
  });

/** `ensureStream` for a KV bucket: creates or opens `bucket` and returns it once its stream has a leader. */
export const ensureKvBucket = async (nc: NatsConnection, bucket: string, kvOptions: Partial<KvOptions>, options: ProvisionOptions = {}): Promise<KV> => {
  const info = await provision(`KV bucket ${bucket}`, options, async (timeout) => {
    const kv = await new Kvm(jetstream(nc, { timeout })).create(bucket, { ...kvOptions });
    return (await kv.status()).streamInfo;
  });
  // The stream exists and has a leader: bind to it with the timeout meant for normal use, without asking
  // the server again. (A second create here asked for the stream's info once more, and on a fresh
  // 3-server cluster it answered "stream not found" for a stream it had just reported with a leader:
  // the concurrent-start test, 1 round in 20 under suite load.)
  const js = options.timeoutMs === undefined ? jetstream(nc) : jetstream(nc, { timeout: options.timeoutMs });
  try {
    return withWriteRetry(await new Kvm(js).open(bucket, { ...(kvOptions.codec === undefined ? {} : { codec: kvOptions.codec }), allow_direct: info.config.allow_direct === true }));
  } catch (cause) {
    throw new TetherError("ERR_STORE_UNAVAILABLE", `cannot open KV bucket ${bucket}: ${String(cause)}`, { cause });
  }
};

/**
 * Runs `attempt` until it returns the info of a stream that has a leader, retrying transient failures
 * with growing request timeouts until the deadline. Measured on nats-server 2.9.10, three nodes starting
 * together on a fresh 3-server cluster: the server answers only one of several concurrent creates of the
 * same R3 stream (the others time out after the full request timeout, 10 s here before), and a stream
 * info can answer before the new stream has a leader, so the first read after it timed out as well.
 * A fresh cluster also answers "JetStream not enabled" / "temporarily unavailable" until its meta leader
 * is elected, and "no suitable peers for placement" for an R3 stream for a second or two after that
 * (4 rounds in a row in the same test before the fix). Each of these is retried here; anything else (bad config, no permission) fails at once.
 */
const provision = async (what: string, options: ProvisionOptions, attempt: (timeoutMs: number) => Promise<StreamInfo>): Promise<StreamInfo> => {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.deadlineMs ?? 30_000);
  let timeoutMs = options.attemptTimeoutMs ?? 2_000;
  let pauseMs = 50;
  let last: unknown;
  for (;;) {
    try {
      const info = await attempt(Math.max(1, Math.min(timeoutMs, deadline - clock.now())));
      if (hasLeader(info)) return info;
      last = new Error(`${what} has no leader yet`);
    } catch (error) {
      if (!isTransientJetStreamError(error)) {
        throw new TetherError("ERR_STORE_UNAVAILABLE", `cannot open ${what}: ${String(error)}`, { cause: error });
      }
      last = error;
      timeoutMs = Math.min(timeoutMs * 2, 8_000);
    }
    if (clock.now() + pauseMs >= deadline) {
      throw new TetherError("ERR_STORE_UNAVAILABLE", `cannot open ${what}: still failing after ${options.deadlineMs ?? 30_000} ms: ${String(last)}`, {
        cause: last,
        retryable: true,
      });
    }
    await new Promise<void>((resolve) => clock.setTimeout(resolve, pauseMs));
    pauseMs = Math.min(pauseMs * 2, 500);
  }
};

/** A clustered stream serves requests once it has a leader; a single server's streams have no cluster info. */
const hasLeader = (info: StreamInfo): boolean => info.cluster === undefined || (info.cluster.leader ?? "") !== "";

/** JetStream API codes that a starting server or cluster answers before it is ready. */
const transientApiCodes: ReadonlySet<number> = new Set([
  10005, // no suitable peers for placement: a fresh cluster's servers have not all reported to the meta leader yet
  10008, // JetStream system temporarily unavailable (no meta leader yet)
  10039, // JetStream not enabled for account
  10076, // JetStream not enabled
  10058, // stream name already in use: another node created it between our info and add; look again
  10065, // subjects overlap with an existing stream: the same, seen first by the overlap check (a KV bucket's subjects)
]);

/** Whether a JetStream request failed for a reason that goes away by itself (see `provision`). */
export const isTransientJetStreamError = (error: unknown): boolean => {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    // StreamNotFoundError: a fresh 3-server cluster answered it for a KV stream that another node had
    // just created (concurrent-start, 1 round in 20 under suite load); provisioning looks again
    if (["TimeoutError", "NoRespondersError", "JetStreamNotEnabled", "StreamNotFoundError"].includes(e.name)) return true;
    const code = (e as { code?: unknown }).code;
    if (e.name === "JetStreamApiError" && typeof code === "number" && transientApiCodes.has(code)) return true;
    if (/timeout|no responders|jetstream not enabled|temporarily unavailable|no suitable peers|subjects overlap with an existing stream/i.test(e.message)) return true;
  }
  return false;
};

const errorName = (error: unknown): string => (error instanceof Error ? error.name : "");
