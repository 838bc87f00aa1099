import { describe, expect, it } from "vitest";
import { GLOBAL_REPLAY_SCOPE, MemoryReplayCache } from "../../../protocols/index.ts";

describe("MemoryReplayCache", () => {
  it("reports a jti as fresh once per scope until it expires", () => {
    let now = 1_000;
    const cache = new MemoryReplayCache({ now: () => now });
    expect(cache.checkAndRemember("w1", "j", 2_000)).toBe(true);
    expect(cache.checkAndRemember("w1", "j", 2_000)).toBe(false);
    expect(cache.checkAndRemember("w2", "j", 2_000)).toBe(true);
    expect(cache.checkAndRemember(GLOBAL_REPLAY_SCOPE, "j", 2_000)).toBe(true);
    now = 2_000;
    expect(cache.checkAndRemember("w1", "j", 3_000)).toBe(true);
  });

  it("sweeps expired entries and stays within maxEntries", () => {
    let now = 0;
    const cache = new MemoryReplayCache({ maxEntries: 3, now: () => now });
    for (const jti of ["a", "b", "c"]) cache.checkAndRemember("*", jti, 100);
    now = 150;
    cache.checkAndRemember("*", "d", 1_000);
    expect(cache.size).toBe(1);
    for (const jti of ["e", "f", "g"]) cache.checkAndRemember("*", jti, 1_000);
    expect(cache.size).toBe(3);
    // Full of live entries: the oldest ("d") was forgotten to make room.
    expect(cache.checkAndRemember("*", "g", 1_000)).toBe(false);
    expect(cache.checkAndRemember("*", "d", 1_000)).toBe(true);
  });

  it("refuses a maxEntries that is not a positive integer", () => {
    expect(() => new MemoryReplayCache({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
  });
});
