import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");

/**
 * A `tether …` child process whose output lines can be awaited; killed on dispose. It runs the CLI's
 * sources (`node --import tsx cli/main.ts`, one process like the published bin), so tests never run a
 * stale dist/ and agents modules written in TypeScript load.
 */
export class TetherProcess implements AsyncDisposable {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  /**
   * `detached`: the process leads its own process group, as a command run from a terminal does.
   * `loader`: `tsx` (default) loads TypeScript as ES modules and as CommonJS; `tsx/esm` only as ES
   * modules, like Node itself loads an application's plain JavaScript (a CommonJS folder stays CommonJS).
   */
  constructor(args: string[], env: Record<string, string> = {}, options: { detached?: boolean; loader?: "tsx" | "tsx/esm" } = {}) {
    this.child = spawn(process.execPath, ["--import", options.loader ?? "tsx", resolve(root, "cli/main.ts"), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    this.child.stdout?.on("data", (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  /** Waits until stdout matches `pattern`; fails with the output so far if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.match(pattern);
      if (m !== null) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`tether process: no ${pattern} (exit ${this.child.exitCode}).\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

/**
 * Runs `tether …` to completion and returns its exit code and output. A command still running after
 * `timeoutMs` (default 60 s) is killed and reported as code null with a `timed out` line naming it on
 * stderr, so a hung command fails its test's assertion by name instead of the test's timeout.
 */
export const runTether = async (
  args: string[],
  env: Record<string, string> = {},
  options: { loader?: "tsx" | "tsx/esm"; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  await using p = new TetherProcess(args, env, options);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), options.timeoutMs ?? 60_000)));
  const code = await Promise.race([p.exited, timedOut]);
  clearTimeout(timer);
  if (code === "timeout") {
    return { code: null, stdout: p.stdout, stderr: `${p.stderr}\n[test] timed out: tether ${args.join(" ")}\n` };
  }
  return { code, stdout: p.stdout, stderr: p.stderr };
};
