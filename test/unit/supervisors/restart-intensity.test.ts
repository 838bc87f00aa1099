import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../runtime/index.ts";
import { RestartIntensity } from "../../../supervisors/index.ts";
import { codeOf, thrown } from "./support.ts";

describe("RestartIntensity", () => {
  it("allows maxRestarts restarts within the window and reports the next one as exceeded (escalate)", () => {
    const clock = new FakeClock(1_000);
    const intensity = new RestartIntensity({ maxRestarts: 3, withinMs: 10_000 }, clock);
    const verdicts = [];
    for (let i = 0; i < 4; i++) {
      verdicts.push(intensity.record());
      clock.advance(1_000);
    }
    expect(verdicts).toEqual(["ok", "ok", "ok", "exceeded"]);
  });

  it("slides the window: restarts older than withinMs no longer count", () => {
    const clock = new FakeClock();
    const intensity = new RestartIntensity({ maxRestarts: 2, withinMs: 5_000 }, clock);
    expect(intensity.record()).toBe("ok"); // t = 0
    clock.advance(3_000);
    expect(intensity.record()).toBe("ok"); // t = 3 000
    clock.advance(2_500);
    // t = 5 500: the restart at 0 has left the window, so this is the 2nd within 5 s, not the 3rd.
    expect(intensity.record()).toBe("ok");
    expect(intensity.count).toBe(2);
    clock.advance(100);
    expect(intensity.record()).toBe("exceeded"); // 3 000, 5 500, 5 600
  });

  it("counts a restart for exactly withinMs: it drops out at the boundary", () => {
    const clock = new FakeClock();
    const intensity = new RestartIntensity({ maxRestarts: 1, withinMs: 1_000 }, clock);
    intensity.record();
    clock.advance(999);
    expect(intensity.count).toBe(1);
    clock.advance(1);
    expect(intensity.count).toBe(0);
    expect(intensity.record()).toBe("ok");
  });

  it("escalates on the very first failure when maxRestarts is 0", () => {
    const intensity = new RestartIntensity({ maxRestarts: 0, withinMs: 1_000 }, new FakeClock());
    expect(intensity.record()).toBe("exceeded");
  });

  it("stays exceeded while failures keep coming faster than the window allows", () => {
    const clock = new FakeClock();
    const intensity = new RestartIntensity({ maxRestarts: 1, withinMs: 1_000 }, clock);
    expect(intensity.record()).toBe("ok");
    for (let i = 0; i < 100; i++) {
      clock.advance(10);
      expect(intensity.record()).toBe("exceeded");
    }
    expect(intensity.count).toBe(2); // memory stays bounded at maxRestarts + 1 timestamps
  });

  it("forgets every restart on reset", () => {
    const clock = new FakeClock();
    const intensity = new RestartIntensity({ maxRestarts: 1, withinMs: 1_000 }, clock);
    intensity.record();
    intensity.reset();
    expect(intensity.count).toBe(0);
    expect(intensity.record()).toBe("ok");
  });

  it("defaults to 3 restarts within 5 000 ms", () => {
    expect(new RestartIntensity({}, new FakeClock()).options).toEqual({ maxRestarts: 3, withinMs: 5_000 });
  });

  it.each([
    ["a negative maxRestarts", { maxRestarts: -1 }],
    ["a fractional maxRestarts", { maxRestarts: 1.5 }],
    ["a zero window", { withinMs: 0 }],
    ["an unknown option", { max: 3 }],
  ])("rejects %s with ERR_SUPERVISOR_SPEC_INVALID", (_what, options) => {
    expect(codeOf(thrown(() => new RestartIntensity(options as never, new FakeClock())))).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });
});
