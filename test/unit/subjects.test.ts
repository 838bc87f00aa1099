import { describe, expect, it } from "vitest";
import { hasCode, networkSubjects, registryKeys } from "../../protocols/index.ts";

describe("networkSubjects", () => {
  const s = networkSubjects("acme");

  it("puts every subject under tether.<network>.", () => {
    expect(s.actor("triage")).toBe("tether.acme.actor.triage");
    expect(s.replyInbox("n1")).toBe("tether.acme.reply.n1.>");
    expect(s.reply("n1", "abc")).toBe("tether.acme.reply.n1.abc");
    expect(s.tellReply("n1", "triage")).toBe("tether.acme.reply.n1.t.triage");
    expect(s.deadLetter("ERR_MAILBOX_FULL")).toBe("tether.acme.dlq.ERR_MAILBOX_FULL");
    expect(s.registryBucket()).toBe("tether_acme_registry");
  });

  it.each(["", "a.b", "a*", ">", "a b", "-x", "x".repeat(129), "ü"])("rejects the id %j with ERR_ADDRESS_INVALID", (bad) => {
    expect(() => s.actor(bad)).toThrow(expect.objectContaining({ code: "ERR_ADDRESS_INVALID" }));
  });

  it("rejects a network name that could inject a subject level", () => {
    let error: unknown;
    try {
      networkSubjects("a.>");
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_ADDRESS_INVALID")).toBe(true);
  });

  it("builds registry keys from validated ids", () => {
    expect(registryKeys.actor("x-1")).toBe("actor.x-1");
    expect(registryKeys.node("n_2")).toBe("node.n_2");
    expect(() => registryKeys.actor("x.y")).toThrow();
  });
});
