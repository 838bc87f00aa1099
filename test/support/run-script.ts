import { spawn } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");

/**
 * Runs a TypeScript script of this checkout (a demo) as its own process, on an embedded nats-server
 * (TETHER_NATS_URL cleared), and collects its output; killed after `timeoutMs`.
 */
export const runScript = async (script: string, timeoutMs = 90_000): Promise<{ code: number | null; out: string; err: string }> => {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TETHER_NATS_URL: "" } });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  clearTimeout(timer);
  return { code, out, err };
};
