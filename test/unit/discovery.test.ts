import { describe, expect, it } from "vitest";
import { Advertisement, advertisementOf, compareVersions, isTetherError, withAdvertised } from "../../protocols/index.ts";
import { negotiate, pickWeighted, rankProviders, type Provider } from "../../runtime/index.ts";

const p = (actorId: string, trust?: number): Provider => ({ actorId, nodeId: "n", className: "C", versions: [], ...(trust === undefined ? {} : { trust }) });

const failure = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
};

describe("compareVersions", () => {
  it("compares numerically part by part", () => {
    expect(compareVersions("1.10", "1.9")).toBe(1);
    expect(compareVersions("1", "1.0")).toBe(0);
    expect(compareVersions("2.0", "10.0")).toBe(-1);
  });
});

describe("negotiate", () => {
  it("picks the highest common version, whatever the order of the offers", () => {
    expect(negotiate("quote", ["1.0", "1.1", "2.0"], ["1.1", "1.0", "3.0"])).toBe("1.1");
    expect(negotiate("quote", ["1.9", "1.10"], ["1.10", "1.9"])).toBe("1.10");
    expect(negotiate("quote", ["1"], ["1.0"])).toBe("1");
  });

  it("fails with ERR_VERSION_NEGOTIATION_FAILED naming what each side offers", () => {
    const error = failure(() => negotiate("quote", ["1.0", "1.1"], ["2.0"], { local: "buyer", remote: "seller" }));
    expect(isTetherError(error) && error.code).toBe("ERR_VERSION_NEGOTIATION_FAILED");
    expect((error as Error).message).toContain("buyer offers [1.0, 1.1]");
    expect((error as Error).message).toContain("seller offers [2.0]");
    expect(isTetherError(error) && error.details).toMatchObject({ protocol: "quote", localOffers: ["1.0", "1.1"], remoteOffers: ["2.0"] });
  });

  it("fails when one side offers nothing", () => {
    const error = failure(() => negotiate("quote", [], ["1.0"]));
    expect(isTetherError(error) && error.code).toBe("ERR_VERSION_NEGOTIATION_FAILED");
  });
});

describe("ranking and picking", () => {
  it("ranks by trust, highest first, unscored last, ties by id", () => {
    expect(rankProviders([p("c"), p("b", 0.5), p("a", 0.5), p("d", 0.9)]).map((x) => x.actorId)).toEqual(["d", "a", "b", "c"]);
  });

  it("picks in proportion to trust", () => {
    const ranked = [p("hi", 0.75), p("lo", 0.25)];
    expect(pickWeighted(ranked, () => 0)?.actorId).toBe("hi");
    expect(pickWeighted(ranked, () => 0.74)?.actorId).toBe("hi");
    expect(pickWeighted(ranked, () => 0.76)?.actorId).toBe("lo");
    expect(pickWeighted(ranked, () => 0.999)?.actorId).toBe("lo");
    let i = 0;
    const seq = Array.from({ length: 1000 }, (_, k) => (k + 0.5) / 1000);
    const counts = { hi: 0, lo: 0 };
    for (let k = 0; k < 1000; k++) counts[pickWeighted(ranked, () => seq[i++] ?? 0)?.actorId as "hi" | "lo"]++;
    expect(counts).toEqual({ hi: 750, lo: 250 });
  });

  it("never picks a zero-trust provider while another has weight, and picks nothing from nothing", () => {
    expect(pickWeighted([p("zero", 0), p("one", 0.1)], () => 0)?.actorId).toBe("one");
    expect(pickWeighted([], () => 0)).toBeUndefined();
  });
});

describe("advertisements", () => {
  it("parses with defaults and merges advertised names into the capability list", () => {
    const a = Advertisement.parse({ capabilities: [{ name: "quote", versions: ["1.0"] }] });
    expect(a.protocols).toEqual({});
    expect(withAdvertised(["price"], a)).toEqual(["price", "quote"]);
    expect(withAdvertised(["quote"], a)).toEqual(["quote"]);
  });

  it("refuses a malformed version with ERR_CONFIG_INVALID", () => {
    const error = failure(() => advertisementOf({ protocols: { quote: ["v1"] } }));
    expect(isTetherError(error) && error.code).toBe("ERR_CONFIG_INVALID");
  });
});
