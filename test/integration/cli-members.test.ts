import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { parseRecord } from "../../protocols/index.ts";
import { LedgerStream } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-cli-members-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tether members / tether network policy", () => {
  it("adds, lists and removes members and sets the policy as an owner or admin; refuses a member's key; every change is in the ledger", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir: join(dir, "keys"), checkpointEvery: 100 })] });
    const nats = server.url;
    const file = (name: string) => join(dir, `${name}-${process.pid}.jwk.json`);
    const run = async (args: string[], code = 0) => {
      const r = await runTether([...args, "--nats", nats]);
      expect({ args: args.join(" "), code: r.code, stderr: r.stderr }).toMatchObject({ code, ...(code === 0 ? { stderr: "" } : {}) });
      return r;
    };
    await run(["keys", "create-operator", "olivia", "--role", "owner", "--out", file("olivia")]);
    await run(["keys", "create-operator", "ada", "--role", "admin", "--signer", file("olivia"), "--out", file("ada")]);
    await run(["keys", "create-operator", "oscar", "--role", "operator", "--signer", file("olivia"), "--out", file("oscar")]);
    await run(["members", "add", "olivia", "--role", "owner", "--signer", file("olivia")]);
    await run(["members", "add", "ada", "--role", "admin", "--signer", file("olivia")]);
    expect((await run(["members", "add", "oscar", "--signer", file("ada")])).stdout).toMatch(/^member\.added: oscar \(member, 1 key\); recorded by node /);
    const ls = await run(["members", "ls", "--json"]);
    expect(ls.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; role: string; by: string })).toMatchObject([
      { id: "olivia", role: "owner", by: "olivia" },
      { id: "ada", role: "admin", by: "olivia" },
      { id: "oscar", role: "member", by: "ada" },
    ]);

    await run(["network", "policy", "set", "--max-members", "5", "--allow-types", "Counter,Triage*", "--min-profile", "relaxed", "--signer", file("ada")]);
    const show = JSON.parse((await run(["network", "policy", "show", "--json"])).stdout) as Record<string, unknown>;
    expect(show).toMatchObject({ network: "default", maxMembers: 5, allowedAgentTypes: ["Counter", "Triage*"], allowedCapabilities: ["*"], minProfile: "relaxed", members: 3, setBy: { owner: "ada", role: "admin" } });
    const refused = await run(["network", "policy", "set", "--max-members", "50", "--signer", file("oscar")], 1);
    expect(refused.stderr).toMatch(/^tether: error ERR_CONTROL_FORBIDDEN: an operator key may not policy\.set/m);
    const bad = await run(["network", "policy", "set", "--min-profile", "paranoid", "--signer", file("ada")], 1);
    expect(bad.stderr).toMatch(/^tether: error ERR_CONFIG_INVALID: invalid policy: minProfile/m);
    await run(["members", "rm", "oscar", "--reason", "left", "--signer", file("ada")]);
    expect((await run(["members", "ls"])).stdout).not.toMatch(/oscar/);
    expect(node.governance.policy().maxMembers).toBe(5);

    await eventually(async () => (await LedgerStream.readAll(node.nats, node.subjects)).length > 0, 5_000, "ledger");
    const events = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).flatMap((r) => (r.kind === "event" ? [r.body] : []));
    expect(events.filter((e) => e.event.startsWith("member.") || e.event === "policy.changed").map((e) => `${e.event} ${e.subject ?? ""}`)).toEqual([
      "member.added olivia",
      "member.added ada",
      "member.added oscar",
      "policy.changed default",
      "member.removed oscar",
    ]);
    expect(events.some((e) => e.event === "violation" && e.details["code"] === "ERR_CONTROL_FORBIDDEN" && e.details["operation"] === "policy.set" && e.details["owner"] === "oscar")).toBe(true);
  }, 300_000); // thirteen CLI processes in a row: each starts the TypeScript sources through tsx
});
