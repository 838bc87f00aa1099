import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CompactSign } from "jose";
import { pack } from "msgpackr";
import { z } from "zod";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  ErrorReply,
  compensationDigest,
  decodeEnvelope,
  encodeBody,
  encodeSend,
  exportPrivateJwk,
  generateSigningKey,
  hasCode,
  parseRecord,
  signControl,
  type CompensationRequest,
  type ControlBody,
  type ErrorCode,
  type KeyRole,
  type SigningKey,
} from "../../protocols/index.ts";
import { ControlSigner, LedgerStream, saveSigningKey, type Node, type NodeEvent } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-control-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

type Answer = { ok: true; body: unknown } | { ok: false; code: ErrorCode | string };

/** Sends raw bytes to a node's control subject, as any NATS client can, and reads the answer. */
const rawControl = async (nc: NatsConnection, subject: string, data: Uint8Array): Promise<Answer> => {
  const reply = await nc.request(subject, data, { timeout: 5_000 });
  const envelope = decodeEnvelope(reply.data);
  if (envelope.kind === "error") return { ok: false, code: ErrorReply.parse(envelope.body).code };
  return { ok: true, body: "body" in envelope ? envelope.body : undefined };
};

/** A person's key: made, saved (0600), and published in the network through a signed key-publish. */
const personKey = async (node: Node, publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<{ key: SigningKey; signer: ControlSigner }> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${name}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } } as const;
  await node.controlNode(node.id, request, 5_000, { signer: publisher === "self" ? signer : publisher });
  return { key, signer };
};

const events = (node: Node): NodeEvent[] => {
  const seen: NodeEvent[] = [];
  node.onEvent((e) => seen.push(e));
  return seen;
};

describe("the authenticated control plane, attacked with a plain NATS client", () => {
  it("refuses unsigned, forged, unknown, revoked, replayed, expired, misdirected and under-privileged control, records each, and obeys an operator", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
    await using other = await startNode(server.url);
    const victim = await node.spawn("victim", Counter);
    const seen = events(node);
    const subject = node.subjects.node(node.id);
    const { signer: owner } = await personKey(node, "self", "owner", "olivia");
    const { key: opKey, signer: operator } = await personKey(node, owner, "operator", "oscar");
    const { signer: observer } = await personKey(node, owner, "observer", "otto");
    const { signer: retiree } = await personKey(node, owner, "operator", "rita");
    await node.controlNode(node.id, { type: "tether.node.v1.key-revoke", kid: retiree.kid, reason: "left the team" }, 5_000, { signer: owner });
    const stop: ControlBody = { type: "tether.node.v1.stop", actorId: "victim" };
    const stranger = await generateSigningKey("ES256");

    const nc = await connect({ servers: server.url });
    try {
      const attempt = async (what: string, data: Uint8Array): Promise<[string, ErrorCode | string]> => {
        const answer = await rawControl(nc, subject, data);
        return [what, answer.ok ? "accepted" : answer.code];
      };
      const tampered = await operator.sign({ type: "tether.node.v1.pause", actorId: "victim", until: 0 }, node.id);
      const [h, , sig] = tampered.token.split(".");
      const swapped = (await operator.sign(stop, node.id)).token.split(".")[1];
      const impostor: SigningKey = { ...stranger, kid: opKey.kid }; // claims the operator's kid, signs with another key
      const expiredAt = Date.now() - 120_000;
      const rawClaims = (claims: Record<string, unknown>) =>
        new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: "ES256", typ: "tether-control+jwt", kid: opKey.kid }).sign(opKey.privateKey);
      const base = { type: "tether.control.v1.claims", network: node.network, target: node.id, nonce: "n".repeat(22), body: stop };
      const cases: [string, Uint8Array, ErrorCode][] = [
        ["unsigned stop", encodeBody(stop), "ERR_CONTROL_UNSIGNED"],
        ["alg none", encodeBody({ type: "tether.control.v1.signed", token: `${Buffer.from(JSON.stringify({ alg: "none", typ: "tether-control+jwt", kid: opKey.kid })).toString("base64url")}.${swapped}.` }), "ERR_CONTROL_UNSIGNED"],
        ["garbage", new Uint8Array([0xc1, 0xc1]), "ERR_CONTROL_MALFORMED"],
        ["forged signature", encodeBody(await signControl(stop, { key: impostor, network: node.network, target: node.id, now: Date.now() })), "ERR_CONTROL_SIGNATURE_INVALID"],
        ["pause signature on a stop body", encodeBody({ type: "tether.control.v1.signed", token: `${h}.${swapped}.${sig}` }), "ERR_CONTROL_SIGNATURE_INVALID"],
        ["unknown key", encodeBody(await signControl(stop, { key: stranger, network: node.network, target: node.id, now: Date.now() })), "ERR_CONTROL_KEY_UNKNOWN"],
        ["revoked key", encodeBody(await retiree.sign(stop, node.id)), "ERR_CONTROL_KEY_REVOKED"],
        ["expired", encodeBody(await signControl(stop, { key: opKey, network: node.network, target: node.id, now: expiredAt })), "ERR_CONTROL_EXPIRED"],
        ["issued in the future", encodeBody({ type: "tether.control.v1.signed", token: await rawClaims({ ...base, issuedAt: Date.now() + 600_000, expiresAt: Date.now() + 660_000 }) }), "ERR_CONTROL_NOT_YET_VALID"],
        ["lifetime of a day", encodeBody({ type: "tether.control.v1.signed", token: await rawClaims({ ...base, issuedAt: Date.now(), expiresAt: Date.now() + 86_400_000 }) }), "ERR_CONTROL_LIFETIME_INVALID"],
        ["signed for another node", encodeBody(await operator.sign(stop, other.id)), "ERR_CONTROL_MISDIRECTED"],
        ["observer stops", encodeBody(await observer.sign(stop, node.id)), "ERR_CONTROL_FORBIDDEN"],
        ["operator revokes the owner", encodeBody(await operator.sign({ type: "tether.node.v1.key-revoke", kid: owner.kid, reason: "coup" }, node.id)), "ERR_CONTROL_FORBIDDEN"],
        ["operator publishes an owner key", encodeBody(await operator.sign({ type: "tether.node.v1.key-publish", kid: stranger.kid, alg: "ES256", role: "owner", owner: "mallory", jwk: { ...stranger.publicJwk } }, node.id)), "ERR_CONTROL_FORBIDDEN"],
        ["a node fences for another node", encodeBody(await other.controlSigner.sign({ type: "tether.node.v1.fence", actorId: "victim", by: "someone-else" }, node.id)), "ERR_CONTROL_FORBIDDEN"],
      ];
      const results: [string, ErrorCode | string][] = [];
      for (const [what, data] of cases) results.push(await attempt(what, data));
      expect(results).toEqual(cases.map(([what, , code]) => [what, code]));
      expect(await victim.ask({ type: "add", n: 1 })).toBe(1); // still running

      // replay: the first copy is obeyed, the second refused
      const pause = encodeBody(await operator.sign({ type: "tether.node.v1.pause", actorId: "victim", until: 0 }, node.id));
      expect(await attempt("pause", pause)).toEqual(["pause", "accepted"]);
      expect(await attempt("pause again", pause)).toEqual(["pause again", "ERR_CONTROL_REPLAYED"]);
      // the bootstrap is closed once an owner exists: a second self-signed owner key is refused
      await expect(personKey(node, "self", "owner", "mallory")).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_CONTROL_KEY_UNKNOWN"));

      // every refusal is a node event and a violation record in the ledger
      const refusedCodes = [...cases.map((c) => c[2]), "ERR_CONTROL_REPLAYED", "ERR_CONTROL_KEY_UNKNOWN"];
      expect(seen.flatMap((e) => (e.type === "control-refused" ? [e.code] : []))).toEqual(refusedCodes);
      const violations = async () =>
        (await LedgerStream.readAll(node.nats, node.subjects))
          .map((r) => parseRecord(r))
          .flatMap((r) => (r.kind === "event" && r.body.event === "violation" ? [r.body.details] : []));
      await eventually(async () => (await violations()).length === refusedCodes.length, 5_000, "violation records");
      expect((await violations()).map((d) => d["code"]).sort()).toEqual([...refusedCodes].sort());
      expect((await violations()).find((d) => d["code"] === "ERR_CONTROL_FORBIDDEN" && d["role"] === "observer")).toMatchObject({ kid: observer.kid, owner: "otto", operation: "stop" });

      // key publish and revoke are ledger records: who, when, old and new
      const records = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r));
      const revoked = records.find((r) => r.kind === "event" && r.body.event === "key.revoked");
      expect(revoked?.kind === "event" ? revoked.body.details : undefined).toMatchObject({
        by: { kid: owner.kid, role: "owner", owner: "olivia" },
        old: { kid: retiree.kid, status: "active" },
        new: { kid: retiree.kid, status: "revoked", reason: "left the team" },
      });
      expect(records.filter((r) => r.kind === "event" && r.body.event === "key.published")).toHaveLength(4);

      // an operator's signed stop is obeyed (and recorded as accepted)
      expect(await attempt("operator stops", encodeBody(await operator.sign(stop, node.id)))).toEqual(["operator stops", "accepted"]);
      await expect(victim.ask({ type: "get" })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_NOT_FOUND"));
      await eventually(async () => records.length < (await LedgerStream.readAll(node.nats, node.subjects)).length, 5_000, "accepted record");
      const last = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).filter((r) => r.kind === "event" && r.body.event === "control.accepted");
      expect(last.at(-1)).toMatchObject({ body: { subject: node.id, details: { operation: "stop", role: "operator", owner: "oscar", actorId: "victim" } } });
    } finally {
      await nc.close();
    }
  });

  it("keeps working after thousands of fuzzed control messages and signatures", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const victim = await node.spawn("victim", Counter);
    const subject = node.subjects.node(node.id);
    const { signer: owner } = await personKey(node, "self", "owner", "fuzz-owner");
    const { signer: operator } = await personKey(node, owner, "operator", "fuzz-operator");
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const mutate = (text: string): string => {
      const chars = [...text];
      for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) {
        const at = Math.floor(random() * chars.length);
        const op = random();
        if (op < 0.4) chars[at] = pickOne([..."AZaz09-_.=/+", "\u0000", "é"]);
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, pickOne([".", "A", "..", "%"]));
      }
      return chars.join("");
    };
    const valid = await Promise.all(Array.from({ length: 20 }, (_, i) => operator.sign({ type: "tether.node.v1.pause", actorId: `nobody-${i}`, until: 0 }, node.id)));
    const values = [null, 0, -1, 1e308, "", "x".repeat(5000), [], {}, true, { type: "tether.control.v1.signed" }, { type: "tether.control.v1.signed", token: 7 }];
    const refusals: string[] = [];
    node.onEvent((e) => {
      if (e.type === "control-refused") refusals.push(e.code);
    });
    const nc = await connect({ servers: server.url });
    try {
      const N = 3_000;
      const messages: Uint8Array[] = [];
      for (let i = 0; i < N; i++) {
        const kind = random();
        if (kind < 0.15) messages.push(Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
        else if (kind < 0.3) messages.push(pack(pickOne(values)));
        else if (kind < 0.45) messages.push(pack({ type: pickOne(["tether.node.v1.stop", "tether.node.v1.activate", "tether.node.v1.fence", "tether.node.v1.key-revoke"]), actorId: "victim", kid: "k", by: "x", className: "Counter" }));
        else {
          const envelope = pickOne(valid);
          const parts = envelope.token.split(".");
          const which = Math.floor(random() * 3);
          parts[which] = mutate(parts[which] ?? "");
          messages.push(pack({ ...envelope, token: random() < 0.1 ? mutate(envelope.token) : parts.join(".") }));
        }
      }
      const answers: Answer[] = [];
      for (let i = 0; i < N; i += 250) answers.push(...(await Promise.all(messages.slice(i, i + 250).map((m) => rawControl(nc, subject, m)))));
      // A mutation can leave the signed bytes as they were (base64url's unused low bits of the last
      // character): that copy of a genuine message is obeyed once, and its nonce refuses the rest.
      const accepted = answers.filter((a) => a.ok).length;
      expect(accepted).toBeLessThanOrEqual(valid.length);
      expect(answers.filter((a) => a.ok).every((a) => a.ok && (a.body as { ok: boolean }).ok === false)).toBe(true); // pauses of nobody
      expect(refusals.length).toBe(N - accepted);
      const codes = new Set(refusals);
      expect([...codes].every((c) => c.startsWith("ERR_CONTROL_"))).toBe(true);
      expect(codes).toContain("ERR_CONTROL_MALFORMED");
      expect(codes).toContain("ERR_CONTROL_SIGNATURE_INVALID");
      expect(await victim.ask({ type: "add", n: 2 })).toBe(2);
      expect(await rawControl(nc, subject, encodeBody(await operator.sign({ type: "tether.node.v1.stop", actorId: "victim" }, node.id)))).toMatchObject({ ok: true });
    } finally {
      await nc.close();
    }
  }, 120_000);

  it("checks the signed grant of a compensation request: right signer, right actor, this very request", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const request: CompensationRequest = { type: "tether.rollback.v1.compensate", jti: "j1", action: "pay", compensation: "refund", params: { amount: 5 }, result: { id: "p1" }, attempt: 1 };
    const grant = (r: CompensationRequest, actorId = "payments") =>
      node.controlSigner.sign({ type: "tether.rollback.v1.compensate-grant", actorId, jti: r.jti, attempt: r.attempt, digest: compensationDigest(r) }, actorId);
    await expect(node.verifyCompensation(await grant(request), "payments", request)).resolves.toBeUndefined();
    const refused = async (g: unknown, actorId: string, r: CompensationRequest) => node.verifyCompensation(g, actorId, r).then(() => "accepted", (e: unknown) => (e as { code: string }).code);
    expect(await refused(await grant(request), "payments", { ...request, params: { amount: 5000 } })).toBe("ERR_CONTROL_MISDIRECTED");
    expect(await refused(await grant(request, "ledger"), "payments", request)).toBe("ERR_CONTROL_MISDIRECTED");
    expect(await refused(undefined, "payments", request)).toBe("ERR_CONTROL_MALFORMED");
    expect(await refused({ type: "tether.rollback.v1.compensate-grant", actorId: "payments", jti: "j1", attempt: 1, digest: compensationDigest(request) }, "payments", request)).toBe("ERR_CONTROL_UNSIGNED");
  });

  it("refuses a compensation request a plain NATS client sends to an actor without a valid grant: compensate() never runs", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const undone: string[] = [];
    class Payments {
      static readonly protocol = z.strictObject({ type: z.literal("noop") });
      handle(): void {}
      compensate(request: CompensationRequest): void {
        undone.push(request.jti);
      }
    }
    await node.spawn("payments", Payments);
    const request: CompensationRequest = { type: "tether.rollback.v1.compensate", jti: "j1", action: "pay", compensation: "refund", params: { amount: 5 }, result: {}, attempt: 1 };
    const attacker = await generateSigningKey("ES256"); // a key the network does not know
    const forged = await signControl({ type: "tether.rollback.v1.compensate-grant", actorId: "payments", jti: "j1", attempt: 1, digest: compensationDigest(request) }, {
      key: attacker,
      network: node.network,
      target: "payments",
      now: Date.now(),
    });
    const genuine = await node.controlSigner.sign({ type: "tether.rollback.v1.compensate-grant", actorId: "payments", jti: "j1", attempt: 1, digest: compensationDigest(request) }, "payments");
    const nc = await connect({ servers: server.url });
    try {
      const attempt = async (body: unknown): Promise<string> => {
        const reply = await nc.request(node.subjects.actor("payments"), encodeSend("compensate", `m${Math.random()}`, "attacker", true, body), { timeout: 5_000 });
        const envelope = decodeEnvelope(reply.data);
        return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
      };
      expect(await attempt({ type: "tether.rollback.v1.signed-compensate", request, grant: { type: "tether.control.v1.signed", token: "x.y.z" } })).toMatch(/^ERR_CONTROL_/);
      expect(await attempt({ type: "tether.rollback.v1.signed-compensate", request, grant: forged })).toBe("ERR_CONTROL_KEY_UNKNOWN");
      // a genuine grant for another request (a bigger refund) does not transfer
      expect(await attempt({ type: "tether.rollback.v1.signed-compensate", request: { ...request, params: { amount: 5000 } }, grant: genuine })).toBe("ERR_CONTROL_MISDIRECTED");
      expect(await attempt(request)).toBe("ERR_MESSAGE_UNKNOWN_TYPE"); // the old unsigned form is not accepted at all
      expect(undone).toEqual([]);
      // the node's own signed request goes through (once: its nonce cannot be replayed)
      expect(await attempt({ type: "tether.rollback.v1.signed-compensate", request, grant: genuine })).toBe("accepted");
      expect(undone).toEqual(["j1"]);
      expect(await attempt({ type: "tether.rollback.v1.signed-compensate", request, grant: genuine })).toBe("ERR_CONTROL_REPLAYED");
    } finally {
      await nc.close();
    }
  });
});
