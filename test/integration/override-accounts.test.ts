import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { OverrideClient } from "../../actors/index.ts";
import { encodeBody, hasCode, overrideSubjects, type ActiveOverride } from "../../protocols/index.ts";
import { OverrideStore, type Node } from "../../runtime/index.ts";
import { startAccountsServer, type AccountsServer } from "../support/accounts.ts";
import { eventually, startNode } from "../support/nats.ts";
import { Worker, journal, keyDir, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const O = overrideSubjects("alpha");

const watchViolations = (nc: NatsConnection): Array<{ operation: string; subject: string }> => {
  const seen: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && s.error instanceof errors.PermissionViolationError) seen.push({ operation: s.error.operation, subject: s.error.subject });
    }
  })();
  return seen;
};

const nodeAs = (server: AccountsServer, identity: string): Promise<Node> =>
  startNode(server.url, { network: "alpha", credentials: server.accounts.credentials("alpha", identity), heartbeatMs: 60_000, leaseTtlMs: 120_000 });

describe("the overrides bucket on a network with accounts", () => {
  it("is written only by the override identity: a node's credentials cannot put, delete or reconfigure an override, nor broadcast one, and nothing changes", { timeout: 90_000 }, async () => {
    await using server = await startAccountsServer(["alpha"]);
    await using oversight = await nodeAs(server, "override");
    await startOversight(oversight, { ledger: false });
    await using worker = await nodeAs(server, "node-1");
    const w = await worker.spawn("w-acct", Worker);
    const { operator } = await operatorKeys(oversight);
    const admin = await server.connectAs("alpha", "operator");
    const attacker = await server.connectAs("alpha", "node-1"); // a plain client holding a node's credentials
    try {
      // the override plane works across identities: the override identity persists and broadcasts, the node acknowledges
      const client = new OverrideClient({ nc: admin, signer: operator });
      const stop = await client.issue({ action: "stop", scope: { kind: "agent", id: "w-acct" }, reason: "accounts drill" });
      expect(stop.coverage.complete).toBe(true);
      await expect(w.ask({ type: "work", seq: 1, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

      const store = await OverrideStore.open(admin, "alpha", { replicas: 1 });
      const records = async (): Promise<ActiveOverride[]> => (await store.list()).map((r) => ({ ...r })).sort((a, b) => a.id.localeCompare(b.id));
      const before = await records();
      expect(before.map((r) => r.id)).toEqual([stop.id]);
      const jsm = await jetstreamManager(admin);
      const lastSeq = async () => (await jsm.streams.info(`KV_${O.bucket()}`)).state.last_seq;
      const seqBefore = await lastSeq();

      const seen = watchViolations(attacker);
      const kv = await new Kvm(jetstream(attacker, { timeout: 2_000 })).open(O.bucket()); // reading is allowed
      expect((await kv.get(`o.${stop.id}`))?.operation).toBe("PUT");
      const forged = { ...before[0], id: "forged", signal: { ...before[0]?.signal, id: "forged" } };
      await expect(kv.put("o.forged", new TextEncoder().encode(JSON.stringify(forged)))).rejects.toThrow();
      await expect(kv.delete(`o.${stop.id}`)).rejects.toThrow();
      await expect(kv.purge(`o.${stop.id}`)).rejects.toThrow();
      // replaying the captured record over itself (e.g. after a lift) is a put too
      await expect(kv.put(`o.${stop.id}`, new TextEncoder().encode(JSON.stringify(before[0])))).rejects.toThrow();
      // reconfiguring the bucket's stream (say, to expire every entry) is refused by the JetStream API permissions
      const info = await jsm.streams.info(`KV_${O.bucket()}`);
      await expect(attacker.request(`$JS.API.STREAM.UPDATE.KV_${O.bucket()}`, new TextEncoder().encode(JSON.stringify({ ...info.config, max_age: 1_000_000 })), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation|permission/i);
      // nor can it broadcast on the priority subject, escalate, or announce a human's result
      for (const subject of [O.signals(), O.escalations(stop.id), O.done(), O.holding()]) attacker.publish(subject, encodeBody({ type: "forged" }));
      await attacker.flush();
      await eventually(() => [`$KV.${O.bucket()}.o.forged`, `$KV.${O.bucket()}.o.${stop.id}`, O.signals(), O.done()].every((s) => seen.some((v) => v.operation === "publish" && v.subject === s)), 10_000, "every write denied by the server");

      // nothing changed: the same record, no new message in the bucket, the agent still stopped
      expect(await records()).toEqual(before);
      expect(await lastSeq()).toBe(seqBefore);
      expect((await jsm.streams.info(`KV_${O.bucket()}`)).config.max_age).toBe(info.config.max_age);
      await expect(w.ask({ type: "work", seq: 2, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

      // the override identity lifts it
      const lifted = await client.lift(stop.id);
      expect(lifted.coverage.complete).toBe(true);
      expect(await w.ask({ type: "work", seq: 3, ms: 0 })).toBe(3);

      // a takeover works across the identities too: the node queues the task, the override identity
      // completes it (removing it from the work stream) and announces the result, the node answers the asker
      const busy = w.ask({ type: "work", seq: 4, ms: 60_000 }, { timeoutMs: 60_000 });
      busy.catch(() => undefined);
      await eventually(() => journal.get("w-acct")?.handled.includes(4) === true, 10_000, "in flight");
      const takeover = await client.issue({ action: "takeover", scope: { kind: "agent", id: "w-acct" }, reason: "by hand" });
      expect(takeover.coverage.complete).toBe(true);
      let task: string | undefined;
      await eventually(async () => (task = (await oversight.humanWork.list())[0]?.taskId) !== undefined, 10_000, "human task queued");
      expect(await client.completeTask(task ?? "", { done: "by hand" })).toMatchObject({ answered: true });
      expect(await busy).toEqual({ done: "by hand" });
      expect(await oversight.humanWork.list()).toEqual([]);
    } finally {
      await attacker.close();
      await admin.close();
    }
  });
});
