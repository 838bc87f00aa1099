import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { MessageCounter } from "./bench-actors.ts";
import { ownCpuUs, wallNowMs } from "./stats.ts";

/**
 * The control channel between a benchmark and its child processes: one JSON object per line,
 * commands on the child's stdin, events on its stdout (the child logs on stderr). The measured
 * traffic itself always goes over NATS; this channel only arms, reads counters and stops.
 */
export const ChildConfig = z.strictObject({
  server: z.string().url(),
  mode: z.enum(["raw", "tether", "moleculer"]),
  network: z.string().max(128),
  /** Tether only: the node's mailbox bound (default: the node's default). */
  mailboxCapacity: z.number().int().positive().optional(),
  /** Credentials file (path) when the server runs networks as NATS accounts (`core --accounts`). */
  credentials: z.string().min(1).optional(),
  /** Peers suite: whether this child drives the load (`caller`) or answers and counts it (`service`). */
  role: z.enum(["caller", "service"]).optional(),
  /** Peers suite, caller: payload bytes in each message. */
  payloadBytes: z.number().int().positive().max(1_048_576).optional(),
  /** Tether: the CA to verify a TLS server with (`core --tls`). */
  tlsCaFile: z.string().min(1).optional(),
});
export type ChildConfig = z.infer<typeof ChildConfig>;

export const ChildCommand = z.discriminatedUnion("type", [
  /** Receiver: reset the counter and report `done` when `n` messages have arrived. */
  z.strictObject({ type: z.literal("arm"), n: z.number().int().positive() }),
  /** Start (`cpu-start`) or read (`cpu-read`) this process's CPU time since the last start. */
  z.strictObject({ type: z.literal("cpu-start") }),
  z.strictObject({ type: z.literal("cpu-read") }),
  /** Receiver: how many messages arrived since the last `arm`. */
  z.strictObject({ type: z.literal("status") }),
  /** Caller: send `n` one-way messages (paced), then report `tell-sent`. */
  z.strictObject({ type: z.literal("tell-run"), n: z.number().int().positive() }),
  /** Caller: `requests` closed-loop asks with `concurrency` in flight, then report `ask-done`. */
  z.strictObject({ type: z.literal("ask-run"), requests: z.number().int().positive(), concurrency: z.number().int().positive() }),
  z.strictObject({ type: z.literal("stop") }),
]);
export type ChildCommand = z.infer<typeof ChildCommand>;

export const ChildEvent = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ready"), pid: z.number().int() }),
  z.strictObject({ type: z.literal("armed") }),
  /** `lastAt`: wall-clock ms (sub-ms resolution) when the last message was counted; `cpuUs` since `arm`. */
  z.strictObject({ type: z.literal("done"), count: z.number().int(), lastAt: z.number(), cpuUs: z.number() }),
  z.strictObject({ type: z.literal("cpu-started") }),
  z.strictObject({ type: z.literal("cpu"), cpuUs: z.number() }),
  z.strictObject({ type: z.literal("status"), count: z.number().int() }),
  /** `startedAt`: wall-clock ms (as in `done`) when the first message was sent. */
  z.strictObject({ type: z.literal("tell-sent"), startedAt: z.number() }),
  /** Latencies in µs. */
  z.strictObject({ type: z.literal("ask-done"), elapsedMs: z.number(), p50: z.number(), p99: z.number() }),
  z.strictObject({ type: z.literal("failed"), message: z.string() }),
]);
export type ChildEvent = z.infer<typeof ChildEvent>;
type EventOf<T extends ChildEvent["type"]> = Extract<ChildEvent, { type: T }>;

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

interface Waiter {
  readonly type: ChildEvent["type"];
  readonly resolve: (event: ChildEvent) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Subjects and actor ids the parent and its children agree on. */
export const BenchAddresses = {
  rawTell: "bench.raw.tell",
  rawEcho: "bench.raw.echo",
  sinkActor: "sink",
  echoActor: "echo",
} as const;

/** The parent's handle on one child process (a TypeScript file run with Node's tsx loader). */
export class ChildPeer {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #queue: ChildEvent[] = [];
  readonly #waiters: Waiter[] = [];
  #exited: Error | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    createInterface({ input: child.stdout! }).on("line", (line) => this.#onLine(line));
    child.on("exit", (code, signal) => {
      this.#exited = new Error(`${name} exited (code ${String(code)}, signal ${String(signal)})`);
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(this.#exited);
      }
    });
  }

  /**
   * Starts `node [nodeArgs] --import tsx <script> <config>` from the repository root and waits for `ready`.
   * `nodeArgs` are extra Node flags (e.g. `--cpu-prof` for diagnosis).
   */
  static async start(name: string, script: string, config: ChildConfig, nodeArgs: readonly string[] = [], timeoutMs = 30_000): Promise<ChildPeer> {
    const args = [...nodeArgs, "--import", "tsx", fileURLToPath(new URL(script, import.meta.url)), JSON.stringify(config)];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const peer = new ChildPeer(name, child);
    try {
      await peer.next("ready", timeoutMs);
    } catch (error) {
      peer.kill();
      throw error;
    }
    return peer;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  send(command: ChildCommand): void {
    if (this.#exited !== undefined) throw this.#exited;
    this.#child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event of `type` (earlier events of that type first), or a rejection on timeout or exit. */
  next<T extends ChildEvent["type"]>(type: T, timeoutMs: number): Promise<EventOf<T>> {
    const index = this.#queue.findIndex((e) => e.type === type);
    if (index >= 0) return Promise.resolve(this.#queue.splice(index, 1)[0] as EventOf<T>);
    if (this.#exited !== undefined) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`${this.name}: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = { type, resolve: resolve as (event: ChildEvent) => void, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a command and waits for its answer. */
  async call<T extends ChildEvent["type"]>(command: ChildCommand, answer: T, timeoutMs = 10_000): Promise<EventOf<T>> {
    this.send(command);
    return this.next(answer, timeoutMs);
  }

  /** Asks the child to stop cleanly (it closes its node or connection), then kills it if it does not exit. */
  stop(timeoutMs = 20_000): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#exited !== undefined) return;
      const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
      try {
        this.send({ type: "stop" });
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => this.kill(), timeoutMs);
      await exited;
      clearTimeout(timer);
    })();
    return this.#stopping;
  }

  kill(): void {
    if (this.#exited === undefined) this.#child.kill("SIGKILL");
  }

  #onLine(line: string): void {
    let event: ChildEvent;
    try {
      event = ChildEvent.parse(JSON.parse(line));
    } catch {
      process.stderr.write(`[${this.name}] unexpected output: ${line.slice(0, 200)}\n`);
      return;
    }
    if (event.type === "failed") process.stderr.write(`[${this.name}] failed: ${event.message}\n`);
    const index = this.#waiters.findIndex((w) => w.type === event.type);
    if (index < 0) {
      this.#queue.push(event);
      return;
    }
    const [waiter] = this.#waiters.splice(index, 1);
    if (waiter === undefined) return;
    clearTimeout(waiter.timer);
    waiter.resolve(event);
  }
}

/**
 * The child's side: parses its config from argv, delivers commands, writes events. When the parent
 * goes away (stdin closes) the child runs `onClose` and exits, so no child outlives its benchmark.
 */
export const openChildChannel = (onCommand: (command: ChildCommand) => void, onClose: () => Promise<void>) => {
  const config = ChildConfig.parse(JSON.parse(process.argv[2] ?? "{}"));
  const emit = (event: ChildEvent): void => {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  };
  let cpuMark = ownCpuUs();
  let closing = false;
  const close = async (code: number) => {
    if (closing) return;
    closing = true;
    try {
      await onClose();
    } catch (error) {
      process.stderr.write(`child close failed: ${String(error)}\n`);
      code = 1;
    }
    process.exit(code);
  };
  createInterface({ input: process.stdin })
    .on("line", (line) => {
      let command: ChildCommand;
      try {
        command = ChildCommand.parse(JSON.parse(line));
      } catch (error) {
        emit({ type: "failed", message: `bad command: ${String(error)}`.slice(0, 1000) });
        return;
      }
      switch (command.type) {
        case "stop":
          void close(0);
          return;
        case "cpu-start":
          cpuMark = ownCpuUs();
          emit({ type: "cpu-started" });
          return;
        case "cpu-read":
          emit({ type: "cpu", cpuUs: ownCpuUs() - cpuMark });
          return;
        default:
          onCommand(command);
      }
    })
    .on("close", () => void close(0));
  return { config, emit, close };
};

/**
 * The receiver's commands, answered from its message counter: `arm` (reset, then report `done` with the
 * time of the last message and the CPU spent since arming) and `status` (the count so far). Returns
 * false for any other command.
 */
export const answerCounterCommand = (command: ChildCommand, counter: MessageCounter, emit: (event: ChildEvent) => void): boolean => {
  switch (command.type) {
    case "arm": {
      const cpuAtArm = ownCpuUs();
      counter.arm(command.n, () => {
        const lastAt = wallNowMs();
        emit({ type: "done", count: counter.count, lastAt, cpuUs: ownCpuUs() - cpuAtArm });
      });
      emit({ type: "armed" });
      return true;
    }
    case "status":
      emit({ type: "status", count: counter.count });
      return true;
    default:
      return false;
  }
};

/**
 * Waits for the receiver's `done` (after the count it was armed with); fails early, with the count so far and
 * `describeStall`'s words, when the count stops moving for 3 s or `limitMs` passes.
 */
export const awaitReceiverDone = async (
  receiver: ChildPeer,
  limitMs: number,
  describeStall: (count: number) => string,
): Promise<{ lastAt: number; cpuUs: number }> => {
  const deadline = Date.now() + limitMs;
  let lastCount = -1;
  for (;;) {
    try {
      return await receiver.next("done", 3_000);
    } catch {
      /* not yet: check progress */
    }
    const status = await receiver.call({ type: "status" }, "status");
    if (status.count === lastCount || Date.now() > deadline) throw new Error(describeStall(status.count));
    lastCount = status.count;
  }
};
