import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalJson, networkSubjects, sealRecord } from "../../protocols/index.ts";
import { LedgerStream } from "../../runtime/index.ts";
import { buildLedger, LEDGER_KEY } from "../unit/audit/fixtures.ts";
import { startServer } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-cli-operator-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = resolve(import.meta.dirname, "..", "..");

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A coded error on stderr, exit 1, and no stack trace. */
const expectCodedError = (r: { code: number | null; stderr: string }, code: string, text?: RegExp): void => {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^tether: error ${code}: `, "m"));
  if (text !== undefined) expect(r.stderr).toMatch(text);
  expect(r.stderr).not.toMatch(/\n\s+at /);
};

describe("tether CLI defects an operator hit", () => {
  it("refuses bad input with a coded error before connecting: a missing --jwks file, no --agents, a CommonJS agents module", async () => {
    const cjs = join(dir, "cjs");
    mkdirSync(cjs);
    writeFileSync(join(cjs, "package.json"), JSON.stringify({ name: "ops-agents" }));
    writeFileSync(
      join(cjs, "agents.ts"),
      `import { defineAgents } from ${JSON.stringify(join(root, "actors/index.ts"))};\nimport { Counter } from ${JSON.stringify(join(root, "test/support/actors.ts"))};\nexport default defineAgents([{ id: "c", actor: Counter }]);\n`,
    );
    const ledger = join(dir, "empty.jsonl");
    writeFileSync(ledger, "");
    // nothing listens on port 1: each of these must fail on its input, not on the connection
    const [jwks, noAgents, commonJs, both, badJson] = await Promise.all([
      runTether(["audit", "verify", "--file", ledger, "--jwks", join(dir, "missing-jwks.json")]),
      runTether(["node", "start", "--nats", "nats://127.0.0.1:1"]),
      // loaded the way Node loads plain JavaScript (the ESM-only loader): a CommonJS folder stays CommonJS
      runTether(["node", "start", "--nats", "nats://127.0.0.1:1", "--agents", join(cjs, "agents.ts")], {}, { loader: "tsx/esm" }),
      runTether(["node", "start", "--embedded", "--nats", "nats://127.0.0.1:1", "--agents", "test/fixtures/agents.ts"]),
      runTether(["ask", "cli-counter", "{not json", "--nats", "nats://127.0.0.1:1"]),
    ]);
    expectCodedError(jwks, "ERR_CONFIG_INVALID", /--jwks: cannot read JWKS file .*missing-jwks\.json: no such file/);
    expectCodedError(noAgents, "ERR_CONFIG_INVALID", /node start needs --agents <module>/);
    expectCodedError(commonJs, "ERR_AGENTS_MODULE_INVALID", /loaded as CommonJS .*add "type": "module" to .*package\.json, or rename it to \.mts/);
    expect(commonJs.stderr).not.toMatch(/Cannot require\(\) ES Module/);
    expectCodedError(both, "ERR_CONFIG_INVALID", /--embedded or --nats, not both/);
    expectCodedError(badJson, "ERR_CONFIG_INVALID", /<json>: not valid JSON/);
  }, 120_000);
});

describe("tether ask / tell / nodes / agents / dlq against a live node", () => {
  it("asks and tells by actor id, lists nodes and dead letters, and ends quietly when its reader goes away", async () => {
    await using server = await startServer();
    const env = { TETHER_NATS_URL: server.url }; // no --nats anywhere: the one default, from the environment
    await using node = new TetherProcess(["node", "start", "--node-id", "ops-node", "--agents", "test/fixtures/agents.ts"], env);
    await node.waitFor(/hosting relay, cli-counter/);

    // a reader that is gone before the first line: the command must not crash with EPIPE
    await using gone = new TetherProcess(["agents", "ls", "--json"], env);
    gone.child.stdout?.destroy();
    const [added, ghostTell, unknownType, nodes, goneCode] = await Promise.all([
      runTether(["ask", "cli-counter", '{"type":"add","n":2}'], env),
      runTether(["tell", "ghost", '{"type":"add","n":1}'], env),
      runTether(["ask", "cli-counter", '{"type":"nope"}'], env),
      runTether(["nodes", "ls", "--json"], env),
      Promise.race([gone.exited, new Promise((r) => setTimeout(() => r(`hung; stdout: ${gone.stdout}; stderr: ${gone.stderr}`), 60_000))]),
    ]);
    expect({ code: added.code, out: added.stdout, err: added.stderr }).toEqual({ code: 0, out: "2\n", err: "" });
    expectCodedError(ghostTell, "ERR_ACTOR_NOT_FOUND", /no live actor ghost/);
    expectCodedError(unknownType, "ERR_MESSAGE_UNKNOWN_TYPE");
    expect(jsonLines(nodes.stdout)).toContainEqual(expect.objectContaining({ id: "ops-node", status: "live", actors: 2 }));
    expect({ code: goneCode, stderr: gone.stderr }).toEqual({ code: 0, stderr: "" });

    const [told, dlq, dlqTable] = await Promise.all([
      runTether(["tell", "cli-counter", '{"type":"add","n":3}'], env),
      runTether(["dlq", "ls", "--json"], env),
      runTether(["dlq", "ls", "--limit", "1", "--actor", "ghost"], env),
    ]);
    expect({ code: told.code, out: told.stdout }).toEqual({ code: 0, out: "sent to cli-counter\n" });
    const letters = jsonLines(dlq.stdout);
    expect(letters.map((l) => [l["code"], l["target"]]).sort()).toEqual([
      ["ERR_ACTOR_NOT_FOUND", "ghost"],
      ["ERR_MESSAGE_UNKNOWN_TYPE", "cli-counter"],
    ]);
    expect(dlqTable.stdout).toMatch(/^SEQ\s+ID\s+AT\s+CODE\s+TARGET/);
    expect(dlqTable.stdout.trim().split("\n")).toHaveLength(2); // the header and ghost's record
    expect(dlqTable.stdout).toMatch(/ERR_ACTOR_NOT_FOUND\s+ghost/);

    const unknown = letters.find((l) => l["code"] === "ERR_MESSAGE_UNKNOWN_TYPE") as { id: string };
    const [got, shown, missing] = await Promise.all([
      runTether(["ask", "cli-counter", '{"type":"get"}', "--timeout-ms", "3000"], env),
      runTether(["dlq", "show", unknown.id], env),
      runTether(["dlq", "show", "no-such-letter"], env),
    ]);
    expect(got.stdout).toBe("5\n"); // the tell arrived
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: unknown.id, code: "ERR_MESSAGE_UNKNOWN_TYPE", messageType: "nope", payload: { type: "nope" } });
    expectCodedError(missing, "ERR_DEAD_LETTER_NOT_FOUND", /no dead letter no-such-letter/);
  }, 120_000);
});

describe("tether audit verify", () => {
  it("streams a live ledger with a progress display, and locates a tampered record in an export", async () => {
    await using server = await startServer();
    const records = await buildLedger({ count: 3_000, checkpointEvery: 100 });
    const nc = await connect({ servers: server.url });
    try {
      // records are sealed by the ledger key, as the ledger actor writes them (unsealed ones are foreign)
      const stream = await LedgerStream.open(nc, networkSubjects("clinic"), {
        replicas: 1,
        seal: (hash) => sealRecord(hash, { key: LEDGER_KEY.privateKey, kid: LEDGER_KEY.kid, alg: "ES256" }),
      });
      for (let i = 0; i < records.length; i += 500) await stream.append(records.slice(i, i + 500));
    } finally {
      await nc.close();
    }
    const jwks = join(dir, "ledger-jwks.json");
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...LEDGER_KEY.publicKey.export({ format: "jwk" }), kid: LEDGER_KEY.kid, alg: "ES256", use: "sig" }] }));
    const tampered = join(dir, "tampered.jsonl");
    const lines = records.map((r) => canonicalJson(r));
    lines[1_234] = (lines[1_234] as string).replace('"at":', '"at":1,"x":');
    writeFileSync(tampered, `${lines.join("\n")}\n`);

    const [live, quiet, edited] = await Promise.all([
      runTether(["audit", "verify", "--nats", server.url, "--network", "clinic", "--jwks", jwks, "--progress"]),
      runTether(["audit", "verify", "--nats", server.url, "--network", "clinic", "--jwks", jwks]),
      runTether(["audit", "verify", "--network", "clinic", "--file", tampered, "--jwks", jwks]),
    ]);
    expect({ code: live.code, out: live.stdout }).toEqual({ code: 0, out: "ledger OK: 3000 records, 29 signed checkpoints verified, 1 anchor(s) checked\n" });
    expect(live.stderr).toMatch(/^verifying: 3,000 of 3,000 \(100%\) records, [\d,]+\/s$/m);
    expect(quiet.stderr).toBe(""); // not a terminal, no --progress: no progress lines
    expectCodedError(edited, "ERR_AUDIT_TAMPERED", /failed at position 1234/);
  }, 120_000);
});
