import { describe, expect, it } from "vitest";
import { RecentAsks } from "../../runtime/internal.ts";

describe("RecentAsks", () => {
  it("says first once per actor and reply subject, and forgets the oldest beyond its bound", () => {
    const r = new RecentAsks(2);
    expect(r.first("a", "inbox.1")).toBe(true);
    expect(r.first("a", "inbox.1")).toBe(false); // a copy
    expect(r.first("b", "inbox.1")).toBe(true); // another actor
    expect(r.first("a", "inbox.2")).toBe(true); // evicts a/inbox.1
    expect(r.first("a", "inbox.1")).toBe(true);
    expect(r.first("a", "inbox.2")).toBe(false);
  });
});
