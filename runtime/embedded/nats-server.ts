import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { TetherError } from "../../protocols/index.ts";

/** Finds the `nats-server` binary: an explicit path, then PATH, then Debian's /usr/sbin. */
export const findNatsServerBinary = (explicit?: string, pathEnv = process.env["PATH"] ?? ""): string => {
  if (explicit !== undefined) {
    if (existsSync(explicit)) return explicit;
    throw notInstalled(`nats-server binary not found at ${explicit}`);
  }
  const dirs = [...pathEnv.split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (existsSync(candidate)) return candidate;
  }
  throw notInstalled("nats-server is not installed");
};

const notInstalled = (what: string): TetherError =>
  new TetherError(
    "ERR_SERVER_START_FAILED",
    `${what}. Run \`npm run setup\` (installs the Debian package nats-server as root), or install nats-server yourself and put it on PATH.`,
  );

export interface NatsServerOptions {
  /** Path of the nats-server binary (default: found on PATH or in /usr/sbin). */
  readonly binary?: string;
  /** A config file to run with `-c`; its `port` may be -1 (a free port is picked). */
  readonly configFile?: string;
  /** Extra environment (nats-server substitutes `$VAR` in config files). */
  readonly env?: Record<string, string>;
  /** Enable JetStream with a fresh store directory (ignored with configFile). Default true. */
  readonly jetstream?: boolean;
  /** Extra command-line arguments. */
  readonly args?: readonly string[];
  /** How long to wait for the server to listen. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Name used in error messages and logs. */
  readonly name?: string;
  /** The config requires TLS of clients: the server's `url` is `tls://…`. */
  readonly tls?: boolean;
}

/** The signals after which a process that does not handle them dies; the server must not outlive it. */
const fatalSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Marks the signal listeners NatsServer installs, so each can tell whether anyone else handles the signal. */
const ownListener = Symbol.for("tether.nats-server.signal-listener");

/**
 * A `nats-server` child process on a free loopback port. Used for the embedded default of a node,
 * for `tether cluster up`, and by the test suite. `stop()` is idempotent.
 *
 * The child runs in its own process group (`detached`), so a Ctrl-C in a terminal reaches only the
 * parent: a node stopping on SIGINT still has its server while it drains and removes its lease (with
 * a shared group the server died first and the node's last writes waited ~21 s for timeouts). The
 * parent therefore kills the child itself: synchronously on `exit`, and on SIGINT/SIGTERM/SIGHUP when
 * nothing else handles that signal (then the signal is raised again, so the process still dies of it).
 * Where something else handles it (`tether node start`), that handler stops the server, last.
 */
export class NatsServer {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #workDir: string;
  readonly #release: () => void;
  #stopped: Promise<void> | undefined;
  #stderr = "";
  #reloads = 0;

  private constructor(child: ChildProcess, url: string, port: number, workDir: string, name: string, release: () => void) {
    this.#child = child;
    this.#release = release;
    this.url = url;
    this.port = port;
    this.#workDir = workDir;
    this.name = name;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = findNatsServerBinary(options.binary);
    const workDir = mkdtempSync(join(tmpdir(), "tether-nats-"));
    const name = options.name ?? "nats";
    const args = ["--ports_file_dir", workDir];
    if (options.configFile !== undefined) args.push("-c", options.configFile);
    else {
      args.push("-a", "127.0.0.1", "-p", "-1");
      if (options.jetstream ?? true) args.push("-js", "-sd", join(workDir, "js"));
    }
    args.push(...(options.args ?? []));
    const child = spawn(binary, args, {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true, // its own process group: see the class comment
    });
    const release = killWithParent(child, workDir);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-16_384);
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    const portsFile = () => (child.pid === undefined ? undefined : join(workDir, `nats-server_${child.pid}.ports`));
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        release();
        rmSync(workDir, { recursive: true, force: true });
        throw new TetherError("ERR_SERVER_START_FAILED", `${name}: nats-server exited during start: ${lastLines(stderr)}`);
      }
      const file = portsFile();
      if (file !== undefined && existsSync(file)) {
        const parsed = readPorts(file, options.tls === true ? "tls" : "nats");
        if (parsed !== undefined) {
          const server = new NatsServer(child, parsed.url, parsed.port, workDir, name, release);
          server.#stderr = stderr;
          child.stderr?.on("data", (chunk: Buffer) => {
            const text = chunk.toString();
            server.#stderr = (server.#stderr + text).slice(-16_384);
            server.#reloads += text.split("Reloaded server configuration").length - 1;
          });
          return server;
        }
      }
      if (Date.now() > deadline) {
        release();
        child.kill("SIGKILL");
        rmSync(workDir, { recursive: true, force: true });
        throw new TetherError("ERR_SERVER_START_FAILED", `${name}: nats-server did not start in time: ${lastLines(stderr)}`);
      }
      await sleep(20);
    }
  }

  /** The last lines the server logged (for diagnosis in failing tests). */
  get log(): string {
    return this.#stderr;
  }

  /**
   * Makes the server re-read its config file (SIGHUP, as `nats-server --signal reload` does) and
   * resolves once it logged the reload; ERR_SERVER_START_FAILED with its last log lines if it did not.
   */
  async reload(timeoutMs = 10_000): Promise<void> {
    const before = this.#reloads;
    this.#child.kill("SIGHUP");
    const deadline = Date.now() + timeoutMs;
    while (this.#reloads === before) {
      if (!this.running || Date.now() > deadline) {
        throw new TetherError("ERR_SERVER_START_FAILED", `${this.name}: nats-server did not reload its config: ${lastLines(this.#stderr)}`);
      }
      await sleep(20);
    }
  }

  /** Kills the process with SIGKILL (a crash, for failure tests). */
  kill(): void {
    this.#child.kill("SIGKILL");
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temporary directory. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      if (this.running) {
        const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
        this.#child.kill("SIGTERM");
        const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      this.#release();
      rmSync(this.#workDir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Kills `child` (and removes its directory) when this process exits, or dies of SIGINT/SIGTERM/SIGHUP
 * because nothing else handles the signal: then the signal is raised again once the child is gone, so
 * the process still dies of it. Returns the function that removes these listeners.
 */
const killWithParent = (child: ChildProcess, workDir: string): (() => void) => {
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
    rmSync(workDir, { recursive: true, force: true });
  };
  const onSignal = Object.assign(
    (signal: NodeJS.Signals) => {
      if (process.listeners(signal).some((l) => !(ownListener in l))) return; // the owner of shutdown stops the server
      kill();
      release();
      process.kill(process.pid, signal);
    },
    { [ownListener]: true },
  );
  const release = () => {
    process.removeListener("exit", kill);
    for (const signal of fatalSignals) process.removeListener(signal, onSignal);
  };
  process.once("exit", kill);
  for (const signal of fatalSignals) process.on(signal, onSignal);
  return release;
};

/** The client URL from the ports file: 127.0.0.1 when the server listens there, else the address it listens on. */
const readPorts = (file: string, scheme: "nats" | "tls"): { url: string; port: number } | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { nats?: string[] };
    const url = parsed.nats?.find((u) => u.includes("127.0.0.1")) ?? parsed.nats?.[0];
    if (url === undefined) return undefined;
    const { host, port } = new URL(url);
    return { url: `${scheme}://${host}`, port: Number(port) };
  } catch {
    return undefined; // written but not complete yet
  }
};

const lastLines = (text: string): string => text.trim().split("\n").slice(-5).join(" | ") || "(no output)";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export const freeLoopbackPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
