import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");

const runScript = async (script: string): Promise<{ code: number | null; out: string; err: string }> => {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TETHER_NATS_URL: "" } });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  clearTimeout(timer);
  return { code, out, err };
};

describe("the demos", () => {
  it("npm run demo: runs the two-node pipeline on an embedded nats-server, prints the narrative and exits 0", async () => {
    const { code, out, err } = await runScript("examples/demo.ts");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/node ops started an embedded nats-server at nats:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/INC-103 \(critical\)[\s\S]*HELD/);
    expect(out).toMatch(/ERR_MESSAGE_INVALID/);
    expect(out).toMatch(/ERR_ACTOR_NOT_FOUND/);
    expect(out).toMatch(/2 dead-letter record\(s\) stored/);
    expect(out).toMatch(/Done\.$/m);
  });

  it("npm run demo:regulated: leaves a ledger that verifies and catches each single-record tampering", async () => {
    const { code, out, err } = await runScript("examples/regulated-demo.ts");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/ect\s+route_incident\s+level L3/);
    expect(out).toMatch(/checkpoint over #0\.\.#\d+, Merkle root .*signed/);
    expect(out).toMatch(/Ledger verification: OK/);
    for (const problem of ["modified", "deleted", "reordered", "inserted"]) expect(out).toMatch(new RegExp(`detected: ${problem} at position \\d+`));
    expect(out).not.toMatch(/NOT DETECTED/);
  });

  it("npm run demo:rollback: compensates payment, then shipping, then inventory, and restores every state", async () => {
    const { code, out, err } = await runScript("examples/rollback-demo.ts");
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/Rollback complete: compensated in order payment → shipping → inventory/);
    expect(out).toMatch(/payment\s+refund_payment\s+compensated after 2 attempt/);
    expect(out).toMatch(/stock of widgets: 100/);
    expect(out).toMatch(/open shipments:\s+0/);
    expect(out).toMatch(/money collected:\s+0/);
  });
});
