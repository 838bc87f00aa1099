import { beforeAll, describe, expect, it } from "vitest";
import {
  MemoryEctStore,
  MemoryReplayCache,
  mintEct,
  sha256B64url,
  TETHER_EXT_PREFIX,
  verifyEct,
  type EctClaims,
  type SigningKey,
} from "../../../protocols/index.ts";
import { at, expectEctError, ISSUER, makeKeys, NOW_S, rootClaims, signerOf, WORKFLOW, type TestKeys } from "./fixtures.ts";

let keys: TestKeys;
beforeAll(async () => {
  keys = await makeKeys();
});

describe("ECT DAG", () => {
  it("mints and verifies the draft's five-step release workflow in order", async () => {
    const steps = ["review_requirements_spec", "implement_module", "execute_test_suite", "build_release_artifact", "approve_release"];
    const store = new MemoryEctStore<EctClaims>();
    const replayCache = new MemoryReplayCache({ now: at(NOW_S + 600) });
    const signers: SigningKey[] = [keys.es, keys.ed, keys.es, keys.ed, keys.es];
    let parent: string | undefined;
    for (const [i, step] of steps.entries()) {
      const iat = NOW_S + i * 60;
      const token = await mintEct(
        {
          iss: `${ISSUER}/${step}`,
          aud: ["spiffe://example.com/agent/next", "spiffe://example.com/ledger"],
          exec_act: step,
          par: parent === undefined ? [] : [parent],
          wid: WORKFLOW,
          out_hash: sha256B64url(`${step} output`),
          ext: { [`${TETHER_EXT_PREFIX}step`]: i },
        },
        { ...signerOf(signers[i]!), now: at(iat) },
      );
      const verified = await verifyEct(token, {
        keys: keys.resolver,
        now: at(iat + 2),
        audience: "spiffe://example.com/ledger",
        store,
        replayCache,
      });
      expect(verified.claims.exec_act).toBe(step);
      expect(verified.claims.par).toEqual(parent === undefined ? [] : [parent]);
      expect(verified.missingParents).toEqual([]);
      store.put(verified.claims);
      parent = verified.claims.jti;
    }
    expect(store.size).toBe(5);
  });

  it("accepts a diamond (two parents sharing an ancestor)", async () => {
    const store = new MemoryEctStore();
    const [root, left, right] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    store.put({ jti: root, iat: NOW_S - 30, par: [] });
    store.put({ jti: left, iat: NOW_S - 20, par: [root] });
    store.put({ jti: right, iat: NOW_S - 10, par: [root] });
    const token = await mintEct(rootClaims({ par: [left, right] }), signerOf(keys.es));
    await expect(verifyEct(token, { keys: keys.resolver, now: at(NOW_S), store })).resolves.toMatchObject({ missingParents: [] });
  });

  it("walks at most 10,000 ancestors and rejects a longer chain with ERR_ECT_CYCLE", async () => {
    const chain = (length: number) => {
      const store = new MemoryEctStore({ maxEntries: length });
      for (let i = 0; i < length; i++) store.put({ jti: `n${i}`, iat: NOW_S - length + i, par: i === 0 ? [] : [`n${i - 1}`] });
      return store;
    };
    const verifyOn = async (length: number) =>
      verifyEct(await mintEct(rootClaims({ par: [`n${length - 1}`] }), signerOf(keys.es)), {
        keys: keys.resolver,
        now: at(NOW_S),
        store: chain(length),
      });
    await expect(verifyOn(10_000)).resolves.toBeDefined();
    const error = await expectEctError(verifyOn(10_001), "ERR_ECT_CYCLE");
    expect(error.details).toMatchObject({ limit: 10_000, reason: "traversal bound exceeded" });
    expect(error.message).toContain("exceeded 10000 nodes");
  });

  it("applies the skew to parent order: a parent up to 30 s newer is accepted", async () => {
    const store = new MemoryEctStore();
    const parent = crypto.randomUUID();
    store.put({ jti: parent, iat: NOW_S + 30, par: [] });
    const token = await mintEct(rootClaims({ par: [parent] }), signerOf(keys.es));
    await expect(verifyEct(token, { keys: keys.resolver, now: at(NOW_S), store })).resolves.toBeDefined();
    await expectEctError(verifyEct(token, { keys: keys.resolver, now: at(NOW_S), store, clockSkewSeconds: 29 }), "ERR_ECT_PARENT_NEWER");
  });

  it("turns a store that throws a plain Error into ERR_ECT_PARENT_MISSING, even in the relaxed profile", async () => {
    const token = await mintEct(rootClaims({ par: [crypto.randomUUID()] }), signerOf(keys.es));
    const store = { get: () => Promise.reject(new Error("ledger offline")) };
    const error = await expectEctError(
      verifyEct(token, { keys: keys.resolver, now: at(NOW_S), store, allowMissingParents: true }),
      "ERR_ECT_PARENT_MISSING",
    );
    expect(error.details["reason"]).toBe("lookup failed");
  });
});
