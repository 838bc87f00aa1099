import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { generateSigningKey, mintEct } from "../../protocols/index.ts";
import type { Node, NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tether ect verify / inspect", () => {
  it("verifies a token minted by another implementation (jose directly), for ES256 and EdDSA", async () => {
    for (const alg of ["ES256", "EdDSA"] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const jwk = { ...(await exportJWK(publicKey)), kid: `other-${alg}`, alg, use: "sig" };
      const jwksFile = join(dir, `jwks-${alg}.json`);
      writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({
        iss: "spiffe://example.com/agent/a",
        aud: ["spiffe://example.com/agent/b"],
        jti: "550e8400-e29b-41d4-a716-446655440000",
        exec_act: "review_spec",
        par: [],
        pol: "policy_v1",
        pol_decision: "approved",
        iat: now,
        exp: now + 600,
      })
        .setProtectedHeader({ alg, typ: "wimse-exec+jwt", kid: `other-${alg}` })
        .sign(privateKey);
      const ok = await runTether(["ect", "verify", token, "--jwks", jwksFile, "--aud", "spiffe://example.com/agent/b"]);
      expect({ alg, code: ok.code, stderr: ok.stderr }).toEqual({ alg, code: 0, stderr: "" });
      expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, level: "L2", claims: { exec_act: "review_spec", pol: "policy_v1" } });

      const wrongAud = await runTether(["ect", "verify", token, "--jwks", jwksFile, "--aud", "spiffe://example.com/agent/z"]);
      expect(wrongAud.code).toBe(1);
      expect(wrongAud.stderr).toMatch(/ERR_ECT_AUDIENCE_MISMATCH/);
    }
  });

  it("exits 1 with the error code for a token it must refuse, and inspects without trusting", async () => {
    const key = await generateSigningKey("ES256");
    const jwksFile = join(dir, "jwks-own.json");
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    const token = await mintEct({ iss: "tether://x/agent/a", aud: "tether://x", exec_act: "act", par: [] }, { key: key.privateKey, kid: key.kid });
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`;
    const bad = await runTether(["ect", "verify", flipped, "--jwks", jwksFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ERR_ECT_SIGNATURE_INVALID/);
    const none = await runTether(["ect", "verify", `${Buffer.from('{"alg":"none","typ":"wimse-exec+jwt","kid":"k"}').toString("base64url")}.${p}.`, "--jwks", jwksFile]);
    expect(none.stderr).toMatch(/ERR_ECT_ALG_NOT_ALLOWED/);
    const inspect = await runTether(["ect", "inspect", flipped]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ verified: false, claims: { exec_act: "act" } });
    const garbage = await runTether(["ect", "inspect", "not-a-token!"]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/ERR_ECT_MALFORMED/);
  });
});

const regulated = (): NodeOptionsInput => ({ assurance: { profile: "regulated", keyDir: join(dir, "keys") } });

describe("tether audit / keys / usage against a live network", () => {
  it("verifies the ledger, detects an edited export at the right record, queries, and rolls up usage", async () => {
    await using server = await startServer();
    await using ledger = await startNode(server.url, regulated());
    await ledger.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(ledger, { keyDir: join(dir, "keys"), checkpointEvery: 3 })] });
    await using node = await startNode(server.url, regulated());
    await node.spawn("planner", Stepper);
    await node.spawn("executor", Stepper);
    const hops = [
      { actor: "planner", action: "plan" },
      { actor: "executor", action: "execute" },
    ];
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await node.ref<typeof Stepper>("planner").ask({ type: "step", hops, units: 10 }));
    const nats = server.url;

    const verify = await runTether(["audit", "verify", "--nats", nats]);
    expect({ code: verify.code, out: verify.stdout }).toMatchObject({ code: 0, out: expect.stringMatching(/ledger OK: \d+ records, [1-9]\d* signed checkpoints verified/) });

    const exported = await runTether(["audit", "export", "--nats", nats, "--format", "jsonl"]);
    const lines = exported.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const file = join(dir, "ledger.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect((await runTether(["audit", "verify", "--nats", nats, "--file", file])).code).toBe(0);
    const edited = [...lines];
    edited[2] = (edited[2] as string).replace('"at":', '"at":1,"x":');
    writeFileSync(file, `${edited.join("\n")}\n`);
    const tampered = await runTether(["audit", "verify", "--nats", nats, "--file", file]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/ERR_AUDIT_TAMPERED: ledger verification failed at position 2/);

    const query = await runTether(["audit", "query", "--nats", nats, "--workflow", runs[1]?.wid as string]);
    const found = query.stdout.trim().split("\n").map((l) => JSON.parse(l) as { body: { exec_act: string } });
    expect(found.map((r) => r.body.exec_act)).toEqual(["plan", "execute"]);

    const usage = await runTether(["usage", "--by", "agent", "--nats", nats, "--json"]);
    const rows = usage.stdout.trim().split("\n").map((l) => JSON.parse(l) as { key: string; actions: number; units: Record<string, number> });
    expect(rows.find((r) => r.key === "planner")).toMatchObject({ actions: 3, units: { tokens: 30 } });
    expect(rows.find((r) => r.key === "executor")).toMatchObject({ actions: 3 });
    const byWorkflow = await runTether(["usage", "--by", "workflow", "--source", "ledger", "--nats", nats, "--json"]);
    expect(byWorkflow.stdout.trim().split("\n")).toHaveLength(3);

    const keys = await runTether(["keys", "ls", "--nats", nats]);
    expect(keys.stdout).toMatch(/audit\s+audit\s+active/);
    expect(keys.stdout).toMatch(/node\s+\S+\s+active/);
  }, 180_000); // nine CLI processes in a row: each starts the TypeScript sources through tsx (60 s ran out at load 25)

  it("creates people's keys with roles and revokes through signed, recorded control; refuses an unauthorized signer", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir: join(dir, "keys"), checkpointEvery: 100 })] });
    const nats = server.url;
    const file = (name: string) => join(dir, `${name}-${process.pid}.jwk.json`);
    const owner = await runTether(["keys", "create-operator", "olivia", "--role", "owner", "--out", file("olivia"), "--nats", nats]);
    expect({ code: owner.code, out: owner.stdout, err: owner.stderr }).toMatchObject({ code: 0, out: expect.stringMatching(/owner key \S+ for olivia published/) });
    const second = await runTether(["keys", "create-operator", "mallory", "--role", "owner", "--out", file("mallory"), "--nats", nats]);
    expect({ code: second.code, err: second.stderr }).toMatchObject({ code: 1, err: expect.stringMatching(/ERR_CONTROL_FORBIDDEN: network default already has an owner/) });
    const op = await runTether(["keys", "create-operator", "oscar", "--role", "operator", "--signer", file("olivia"), "--out", file("oscar"), "--nats", nats]);
    expect(op.code).toBe(0);
    const kid = /operator key (\S+) for oscar/.exec(op.stdout)?.[1] as string;
    const selfRevoke = await runTether(["keys", "revoke", kid, "--reason", "test", "--signer", file("oscar"), "--nats", nats]);
    expect({ code: selfRevoke.code, err: selfRevoke.stderr }).toMatchObject({ code: 1, err: expect.stringMatching(/ERR_CONTROL_FORBIDDEN/) });
    const revoke = await runTether(["keys", "revoke", kid, "--reason", "left", "--signer", file("olivia"), "--nats", nats]);
    expect({ code: revoke.code, out: revoke.stdout }).toMatchObject({ code: 0, out: expect.stringMatching(/revoked \S+ \(operator key of oscar\)/) });
    expect((await node.assurance.keys.get(kid))?.status).toBe("revoked");
    const keys = await runTether(["keys", "ls", "--nats", nats]);
    expect(keys.stdout).toMatch(/owner\s+olivia\s+active/);
  }, 120_000); // six CLI processes in a row: each starts the TypeScript sources through tsx

  it("stitches the draft's five-step workflow from two networks' ledgers in causal order", async () => {
    await using server = await startServer();
    const networks = ["alpha", "beta"] as const;
    const nodes: Record<string, Node> = {};
    try {
      for (const network of networks) {
        const n = await startNode(server.url, { network, ...regulated() });
        nodes[network] = n;
        await n.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(n, { keyDir: join(dir, "keys"), checkpointEvery: 2 })] });
      }
      const wid = "7c9e6679-7425-40de-944b-e07fc1f66afe";
      const steps = ["review_requirements_spec", "implement_module", "execute_test_suite", "build_release_artifact", "approve_release"];
      let parent: string | undefined;
      const now = Math.floor(Date.now() / 1000);
      for (const [i, step] of steps.entries()) {
        const network = i % 2 === 0 ? "alpha" : "beta"; // the run crosses domains at every step
        const node = nodes[network] as Node;
        const key = await generateSigningKey(i % 2 === 0 ? "ES256" : "EdDSA");
        await node.assurance.keys.publish(key, "agent", `${step}-agent`);
        const jti = `00000000-0000-4000-8000-00000000000${i}`;
        const token = await mintEct(
          { iss: `spiffe://${network}.example/agent/${step}`, aud: [`tether://${network}`], jti, wid, exec_act: step, par: parent === undefined ? [] : [parent], iat: now - 50 + i * 5 },
          { key: key.privateKey, kid: key.kid, alg: key.alg },
        );
        await node.assurance.ledger.append({ kind: "ect", token, level: "L2" });
        parent = jti;
      }
      for (const network of networks) await (nodes[network] as Node).ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
      const r = await runTether(["audit", "stitch", "--workflow", wid, "--ledger", `alpha@${server.url}`, "--ledger", `beta@${server.url}`]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      const result = JSON.parse(r.stdout) as { steps: { exec_act?: string; jti: string; network?: string }[]; missingParents: string[] };
      expect(result.missingParents).toEqual([]);
      expect(JSON.stringify(result.steps)).toContain("approve_release");
      const order = result.steps.map((s) => steps.findIndex((name) => JSON.stringify(s).includes(`"${name}"`)));
      expect(order).toEqual([0, 1, 2, 3, 4]);
    } finally {
      for (const n of Object.values(nodes)) await n.close();
    }
  });
});

