import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers } from "@nats-io/transport-node";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { HeaderNames, encodeSend, mintUnsignedEct, parseRecord } from "../../protocols/index.ts";
import { LedgerStream, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-regulated-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const regulated: NodeOptionsInput = { assurance: { profile: "regulated", keyDir } as NodeOptionsInput["assurance"] };

const startLedger = async (url: string): Promise<Node> => {
  const node = await startNode(url, regulated);
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 4 })] });
  return node;
};

const violations = async (node: Node) =>
  (await LedgerStream.readAll(node.nats, node.subjects))
    .map((r) => parseRecord(r))
    .flatMap((r) => (r.kind === "event" && r.body.event === "violation" ? [r.body.details] : []));

describe("a regulated node attacked with a plain NATS client", () => {
  it("refuses messages without a token or with an unsigned one before the actor sees them, and records each refusal", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using node = await startNode(server.url, regulated);
    const seen: string[] = [];
    await node.spawn("intake", Stepper, { args: [seen] });
    const nc = await connect({ servers: server.url });
    try {
      const send = async (id: string, token?: string): Promise<string> => {
        const h = headers();
        if (token !== undefined) h.set(HeaderNames.executionContext, token);
        const data = encodeSend("ask", id, "raw-client", false, { type: "seq", n: 1 });
        const reply = await nc.request(node.subjects.actor("intake"), data, { timeout: 5_000, ...(token === undefined ? {} : { headers: h }) });
        const answer = readAnswer(reply.data);
        return answer.ok ? "ok" : answer.error.code;
      };
      expect(await send("no-header")).toBe("ERR_ECT_MISSING");
      const unsigned = mintUnsignedEct({ iss: "tether://default/agent/x", aud: ["tether://default"], exec_act: "probe", par: [] });
      expect(await send("unsigned", unsigned)).toBe("ERR_ECT_LEVEL_TOO_LOW");
      expect(seen).toEqual([]); // the actor never saw either

      // a tell without a token is refused too (its rejection report, not silence)
      nc.publish(node.subjects.actor("intake"), encodeSend("tell", "tell-no-header", "raw-client", false, { type: "seq", n: 2 }));

      await eventually(async () => (await violations(ledger)).length >= 3, 5_000, "violation records");
      const records = await violations(ledger);
      expect(records.map((d) => d["code"]).sort()).toEqual(["ERR_ECT_LEVEL_TOO_LOW", "ERR_ECT_MISSING", "ERR_ECT_MISSING"]);
      expect(records.find((d) => d["messageId"] === "no-header")).toMatchObject({ source: "message", node: node.id });
      expect(seen).toEqual([]);

      // the genuine flow still works end to end
      const result = await node.ref<typeof Stepper>("intake").ask({ type: "step", hops: [{ actor: "intake", action: "review_requirements_spec" }] });
      expect(result.actions).toEqual(["review_requirements_spec"]);
    } finally {
      await nc.close();
    }
  });

  it.todo("refuses a made-up receipt (999.AAAA…) on a genuine token (needs receipts signed by the ledger actor)");
  it.todo("refuses the genuine receipt of another token");
  it.todo("refuses a captured genuine token and receipt resent with a new message id and a different body (message binding)");
});
