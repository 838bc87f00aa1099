import { readFileSync } from "node:fs";
import { build, type Histogram } from "hdr-histogram-js";

/** Median of a non-empty list (the mean of the middle two for an even count). */
export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits. */
export const latencyHistogram = (): Histogram =>
  build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

/** Wall-clock now in milliseconds with sub-millisecond resolution, comparable between processes of one host. */
export const wallNowMs = (): number => performance.timeOrigin + performance.now();

/** CPU time (user + system) of this process in microseconds. */
export const ownCpuUs = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Linux reports /proc CPU times in USER_HZ ticks, which is 100 on every mainstream architecture. */
const USER_HZ = 100;

/**
 * CPU time (user + system) of another process in microseconds, read from /proc (10 ms resolution).
 * Undefined where /proc is not available; used for the nats-server's share of the work.
 */
export const procCpuUs = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces; fields after its closing parenthesis are fixed
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1_000_000) / USER_HZ;
  } catch {
    return undefined;
  }
};

/** Resident set size of another process in bytes (from /proc/<pid>/status), if readable. */
export const procRssBytes = (pid: number): number | undefined => {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
};

/** Yields to the event loop (lets I/O callbacks run), as a publisher should every N sends. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with a clear message when `promise` does not settle within `ms`. */
export const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
