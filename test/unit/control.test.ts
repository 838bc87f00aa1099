import { beforeAll, describe, expect, it } from "vitest";
import { importJWK, type CryptoKey } from "jose";
import {
  ControlLimits,
  ControlRoles,
  KeyRole,
  MemoryReplayCache,
  generateSigningKey,
  mayManageKey,
  mayPerform,
  signControl,
  verifyControl,
  type ControlBody,
  type ControlKeys,
  type KeyRole as Role,
  type SigningKey,
} from "../../protocols/index.ts";

const NOW = 1_750_000_000_000;
const stop: ControlBody = { type: "tether.node.v1.stop", actorId: "a" };
let keys: Record<string, { key: SigningKey; role: Role; owner: string }>;
let resolver: ControlKeys;

beforeAll(async () => {
  keys = {};
  const imported = new Map<string, CryptoKey>();
  for (const role of ["operator", "observer", "node"] as const) {
    const key = await generateSigningKey("ES256");
    keys[role] = { key, role, owner: `${role}-1` };
    imported.set(key.kid, (await importJWK(key.publicJwk, key.alg)) as CryptoKey);
  }
  resolver = {
    lookup: async (kid) => {
      const found = Object.values(keys).find((k) => k.key.kid === kid);
      const key = imported.get(kid);
      return found === undefined || key === undefined ? undefined : { role: found.role, owner: found.owner, key: { key, alg: found.key.alg } };
    },
  };
});

const verify = (input: unknown, now = NOW, replay = new MemoryReplayCache({ now: () => now })) =>
  verifyControl(input, { network: "net", target: "n1", now, keys: resolver, replay });
const sign = (role: string, body: ControlBody = stop, extra: { now?: number; target?: string; lifetimeMs?: number } = {}) =>
  signControl(body, { key: keys[role]?.key as SigningKey, network: "net", target: extra.target ?? "n1", now: extra.now ?? NOW, ...(extra.lifetimeMs === undefined ? {} : { lifetimeMs: extra.lifetimeMs }) });
const codeOf = (p: Promise<unknown>) => p.then(() => "accepted", (e: unknown) => (e as { code: string }).code);

describe("the control role matrix", () => {
  it("names every key role once, gives observers and machines other than nodes nothing, and keeps owner and admin keys for owners", () => {
    expect(Object.keys(ControlRoles).sort()).toEqual([...KeyRole.options].sort());
    for (const role of ["observer", "agent", "audit"] as const) expect(ControlRoles[role]).toEqual([]);
    expect(mayPerform("operator", "stop")).toBe(true);
    expect(mayPerform("operator", "key.revoke")).toBe(false);
    expect(mayPerform("node", "fence")).toBe(true);
    expect(mayPerform("owner", "fence")).toBe(false);
    expect(mayManageKey("admin", "operator")).toBe(true);
    expect(mayManageKey("admin", "admin")).toBe(false);
    expect(mayManageKey("owner", "owner")).toBe(true);
  });
});

describe("verifyControl", () => {
  it("accepts a signed stop from an operator, once", async () => {
    const envelope = await sign("operator");
    const replay = new MemoryReplayCache({ now: () => NOW });
    await expect(verify(envelope, NOW, replay)).resolves.toMatchObject({ operation: "stop", role: "operator", owner: "operator-1", body: stop });
    expect(await codeOf(verify(envelope, NOW, replay))).toBe("ERR_CONTROL_REPLAYED");
  });

  it("refuses by time: expired beyond the skew, issued in the future, lifetimes over the maximum cannot even be signed", async () => {
    expect(await codeOf(verify(await sign("operator"), NOW + ControlLimits.defaultLifetimeMs + ControlLimits.clockSkewMs + 1))).toBe("ERR_CONTROL_EXPIRED");
    expect(await codeOf(verify(await sign("operator"), NOW + ControlLimits.defaultLifetimeMs + ControlLimits.clockSkewMs))).toBe("accepted");
    expect(await codeOf(verify(await sign("operator", stop, { now: NOW + 31_000 })))).toBe("ERR_CONTROL_NOT_YET_VALID");
    await expect(sign("operator", stop, { lifetimeMs: ControlLimits.maxLifetimeMs + 1 })).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("refuses the wrong role, the wrong target and a node fencing on another's behalf", async () => {
    expect(await codeOf(verify(await sign("observer")))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await codeOf(verify(await sign("operator", stop, { target: "n2" })))).toBe("ERR_CONTROL_MISDIRECTED");
    expect(await codeOf(verify(await sign("node", { type: "tether.node.v1.fence", actorId: "a", by: "node-1" })))).toBe("accepted");
    expect(await codeOf(verify(await sign("node", { type: "tether.node.v1.fence", actorId: "a", by: "node-2" })))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await codeOf(verify(await sign("operator", { type: "tether.node.v1.fence", actorId: "a", by: "operator-1" })))).toBe("ERR_CONTROL_FORBIDDEN");
  });

  it("never throws anything but a coded error for hostile input", async () => {
    const inputs: unknown[] = [undefined, null, 1, "x", [], {}, stop, { type: "tether.control.v1.signed", token: "" }, { type: "tether.control.v1.signed", token: "a.b.c" }, { type: "tether.control.v1.signed", token: "e30.e30.e30" }];
    for (const input of inputs) expect(await codeOf(verify(input))).toMatch(/^ERR_CONTROL_/);
  });
});
