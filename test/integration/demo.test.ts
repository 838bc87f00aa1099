import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

describe("npm run demo", () => {
  it("runs the two-node pipeline on an embedded nats-server, prints the narrative and exits 0", async () => {
    const root = resolve(import.meta.dirname, "..", "..");
    const child = spawn(process.execPath, ["--import", "tsx", "examples/demo.ts"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TETHER_NATS_URL: "" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    clearTimeout(timer);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/node ops started an embedded nats-server at nats:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/INC-103 \(critical\)[\s\S]*HELD/);
    expect(out).toMatch(/ERR_MESSAGE_INVALID/);
    expect(out).toMatch(/ERR_ACTOR_NOT_FOUND/);
    expect(out).toMatch(/2 dead-letter record\(s\) stored/);
    expect(out).toMatch(/Done\.$/m);
  });
});
