import { describe, expect, it } from "vitest";
import { RefusalBudget } from "../../../actors/index.ts";

describe("RefusalBudget", () => {
  it("records 20 refusals a second and carries the count of the rest on the next record", () => {
    const budget = new RefusalBudget(20);
    const recorded = Array.from({ length: 1_000 }, (_, i) => budget.take(5_000, { i })).filter((d) => d !== undefined);
    expect(recorded).toHaveLength(20);
    expect(budget.take(6_000, { i: "next" })).toEqual({ i: "next", suppressed: 980 });
    expect(budget.take(6_001, { i: "after" })).toEqual({ i: "after" });
  });
});
