import { mkdtempSync, rmSync } from "node:fs";
import { NetOps } from "../fixtures/netops-agent.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLedger, ConsensusClient, TrustClient, createAuditLedgerDeps } from "../../actors/index.ts";
import { exportPrivateJwk, generateSigningKey, ProposalRecord, type KeyRole, type SigningKey } from "../../protocols/index.ts";
import { ControlSigner, FakeClock, saveSigningKey, type Node } from "../../runtime/index.ts";
import { startNode, startServer } from "../support/nats.ts";
import { ledgerEvents } from "../support/override.ts";
import { runTether } from "../support/processes.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-cli-consensus-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));


/** Writes a fresh key to a file and, unless `publish` is false, publishes it in the network's registry (signed by `by`, or by itself for the owner). */
const keyFile = async (node: Node, by: ControlSigner | "self" | "unpublished", role: KeyRole, owner: string): Promise<{ key: SigningKey; signer: ControlSigner; file: string }> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${owner}-${role}-${key.kid}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  if (by !== "unpublished") {
    const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner, jwk: { ...key.publicJwk } } as const;
    await node.controlNode(node.id, request, 5_000, { signer: by === "self" ? signer : by });
  }
  return { key, signer, file };
};

const jsonLines = (out: string): unknown[] => out.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as unknown);

describe("tether consensus (CLI)", () => {
  it("lists proposals, shows votes and decision, resolves with a resolver's key and refuses an operator's or an unknown key without changing anything", { timeout: 180_000 }, async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    const clock = new FakeClock(Date.now());
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
    const trust = await new TrustClient({ clock }).attach(node).start();
    const consensus = await new ConsensusClient({ clock, trust, tickMs: 1_000 }).attach(node).start();
    for (const id of ["diagnosis", "monitor", "optimiser"]) await node.spawn(id, NetOps);
    const owner = await keyFile(node, "self", "owner", "olivia");
    const keys: Record<string, SigningKey> = {};
    for (const id of ["diagnosis", "monitor", "optimiser"]) keys[id] = (await keyFile(node, owner.signer, "agent", id)).key;
    const approver = await keyFile(node, owner.signer, "approver", "ada");
    const operator = await keyFile(node, owner.signer, "operator", "oscar");
    const stranger = await keyFile(node, "unpublished", "approver", "mallory");
    const k = (id: string) => keys[id] as SigningKey;

    await consensus.propose({ id: "router-7", question: "is router 7 down?", options: ["down", "up"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    await consensus.propose({ id: "later-1", question: "reroute via r9?", options: ["yes", "no"], capability: "netops", rule: { kind: "supermajority", threshold: 0.67 }, deadline: clock.now() + 120_000 });
    await consensus.vote("diagnosis", k("diagnosis"), "router-7", "down");
    await expect(consensus.vote("diagnosis", k("diagnosis"), "router-7", "up")).rejects.toMatchObject({ code: "ERR_CONSENSUS_VOTE_REFUSED" });
    await consensus.vote("monitor", k("monitor"), "router-7", "up");
    const receipt = await consensus.vote("optimiser", k("optimiser"), "router-7", "up");
    expect(receipt).toMatchObject({ status: "decided", decision: "up" });
    const decided = await consensus.get("router-7");
    const common = ["--nats", server.url];

    // ls: both proposals as JSON lines, by deadline; --status narrows; a bad status is a coded error
    const ls = await runTether(["consensus", "ls", "--json", ...common]);
    expect(ls.code).toBe(0);
    expect(jsonLines(ls.stdout)).toEqual([
      { id: "router-7", kind: "general", question: "is router 7 down?", status: "decided", options: ["down", "up"], rule: { kind: "majority" }, deadline: decided.proposal.deadline, eligible: 3, votes: 3, refused: 1, decision: "up" },
      expect.objectContaining({ id: "later-1", status: "open", votes: 0, eligible: 3, rule: { kind: "supermajority", threshold: 0.67 } }),
    ]);
    const open = await runTether(["consensus", "ls", "--status", "open", ...common]);
    expect(open.stdout).toContain("later-1");
    expect(open.stdout).not.toContain("router-7");
    const bad = await runTether(["consensus", "ls", "--status", "maybe", ...common]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("ERR_CONFIG_INVALID");

    // show: question, eligible voters, every vote with its weight and jti, the refused vote, tally and decision
    const show = await runTether(["consensus", "show", "router-7", ...common]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("question   is router 7 down?");
    expect(show.stdout).toContain("eligible   diagnosis, monitor, optimiser");
    for (const v of decided.votes) expect(show.stdout).toMatch(new RegExp(`vote +${v.voter} +${v.choice} +weight ${v.weight.toFixed(3)} .*jti ${v.jti}`));
    expect(show.stdout).toMatch(/refused +diagnosis +duplicate/);
    expect(show.stdout).toContain("decision   up  (by vote)");
    expect(show.stdout).toContain(`ect        ${decided.ect ?? "missing"}`);
    const showJson = await runTether(["consensus", "show", "router-7", "--json", ...common]);
    expect(ProposalRecord.parse(JSON.parse(showJson.stdout))).toEqual(decided);
    const missing = await runTether(["consensus", "show", "nope", ...common]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("ERR_CONSENSUS_PROPOSAL");

    // resolve refused: an operator's key (not a resolver), a key the network does not know, then the truth not an option
    const scores = async () => Object.fromEntries(await Promise.all(["diagnosis", "monitor", "optimiser"].map(async (a) => [a, (await trust.score(a)).score] as const)));
    const before = await scores();
    const byOperator = await runTether(["consensus", "resolve", "router-7", "--truth", "up", "--signer", operator.file, ...common]);
    expect(byOperator.code).toBe(1);
    expect(byOperator.stderr).toContain("ERR_CONSENSUS_RESOLVE_REFUSED");
    expect(byOperator.stderr).toContain("operator key may not approve");
    const byStranger = await runTether(["consensus", "resolve", "router-7", "--truth", "down", "--signer", stranger.file, ...common]);
    expect(byStranger.code).toBe(1);
    expect(byStranger.stderr).toContain("ERR_CONSENSUS_RESOLVE_REFUSED");
    const notOption = await runTether(["consensus", "resolve", "router-7", "--truth", "sideways", "--signer", approver.file, ...common]);
    expect(notOption.code).toBe(1);
    expect(notOption.stderr).toContain("ERR_CONSENSUS_PROPOSAL");
    expect(await consensus.get("router-7")).toEqual(decided);
    expect(await scores()).toEqual(before);
    const refusals = (await ledgerEvents(node, "violation")).filter((e) => (e as { code?: unknown }).code === "ERR_CONSENSUS_RESOLVE_REFUSED");
    expect(refusals.length).toBeGreaterThanOrEqual(2);

    // resolve by the approver: the truth is recorded, the voters' trust moves, show prints it
    const resolved = await runTether(["consensus", "resolve", "router-7", "--truth", "up", "--signer", approver.file, ...common]);
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toContain("proposal router-7: resolved, truth up (decision up)");
    const after = await consensus.get("router-7");
    expect(after).toMatchObject({ status: "resolved", truth: "up", resolvedBy: "approver:ada" });
    const moved = await scores();
    expect(moved["diagnosis"]).toBeLessThan(before["diagnosis"] ?? 0);
    expect(moved["monitor"]).toBeGreaterThan(before["monitor"] ?? 1);
    const shown = await runTether(["consensus", "show", "router-7", ...common]);
    expect(shown.stdout).toContain("truth      up  resolved by approver:ada");
    // once only: a second resolve is refused
    const again = await runTether(["consensus", "resolve", "router-7", "--truth", "down", "--signer", approver.file, ...common]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("ERR_CONSENSUS_PROPOSAL");
    expect((await consensus.get("router-7")).truth).toBe("up");
  });
});
