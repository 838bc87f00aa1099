import { describe, expect, it } from "vitest";
import { isTetherError, stepMessage, validateWorkflow, type WorkflowDefinitionInput } from "../../protocols/index.ts";

const step = (id: string, extra: Record<string, unknown> = {}) => ({ id, agent: "worker", message: { type: "work" }, ...extra });

const refusal = (definition: unknown): { code: string; step: unknown; message: string } => {
  try {
    validateWorkflow(definition);
  } catch (error) {
    if (!isTetherError(error)) throw error;
    return { code: error.code, step: (error.details as { step?: unknown }).step, message: error.message };
  }
  throw new Error("the definition was accepted");
};

describe("validateWorkflow", () => {
  it("orders a diamond topologically, higher priority first among ready steps", () => {
    const { order } = validateWorkflow({
      name: "diamond",
      steps: [step("d", { dependsOn: ["b", "c"] }), step("b", { dependsOn: ["a"] }), step("c", { dependsOn: ["a"], priority: 5 }), step("a")],
    } satisfies WorkflowDefinitionInput);
    expect(order).toEqual(["a", "c", "b", "d"]);
  });

  it("rejects a cycle, naming a step on it", () => {
    const r = refusal({ name: "loop", steps: [step("a", { dependsOn: ["c"] }), step("b", { dependsOn: ["a"] }), step("c", { dependsOn: ["b"] }), step("x")] });
    expect(r.code).toBe("ERR_WORKFLOW_INVALID");
    expect(["a", "b", "c"]).toContain(r.step);
    expect(r.message).toMatch(/cycle/);
  });

  it("rejects a dependency on a step that does not exist, naming the step", () => {
    expect(refusal({ name: "w", steps: [step("a"), step("b", { dependsOn: ["ghost"] })] })).toMatchObject({ code: "ERR_WORKFLOW_INVALID", step: "b" });
  });

  it("rejects an input read from an unknown step, or from a step it does not depend on", () => {
    expect(refusal({ name: "w", steps: [step("a"), step("b", { input: { x: { from: "step", step: "ghost" } } })] })).toMatchObject({ step: "b" });
    expect(refusal({ name: "w", steps: [step("a"), step("b", { input: { x: { from: "step", step: "a" } } })] }).message).toMatch(/does not depend on it/);
  });

  it("rejects duplicate ids, self-dependencies, a step with both or neither of agent and capability, and schema errors, naming the step", () => {
    expect(refusal({ name: "w", steps: [step("a"), step("a")] })).toMatchObject({ step: "a" });
    expect(refusal({ name: "w", steps: [step("a", { dependsOn: ["a"] })] })).toMatchObject({ step: "a" });
    expect(refusal({ name: "w", steps: [step("a", { capability: "adder" })] })).toMatchObject({ step: "a" });
    expect(refusal({ name: "w", steps: [{ id: "a", message: { type: "work" } }] })).toMatchObject({ step: "a" });
    expect(refusal({ name: "w", steps: [step("a"), { id: "b", agent: "worker", message: { no: "type" } }] })).toMatchObject({ step: "b" });
    expect(refusal({ name: "w", steps: [step("a"), step("bad id!")] })).toMatchObject({ step: "bad id!" });
    expect(refusal({ name: "w", steps: [] }).code).toBe("ERR_WORKFLOW_INVALID");
    expect(refusal("not even an object").code).toBe("ERR_WORKFLOW_INVALID");
  });

  it("maps inputs from the workflow input and earlier outputs into the step's message", () => {
    const { definition } = validateWorkflow({
      name: "w",
      steps: [step("a"), step("b", { dependsOn: ["a"], input: { value: { from: "step", step: "a", path: "value" }, patient: { from: "input", path: "patient.id" }, add: { value: 2 } } })],
    });
    const b = definition.steps[1];
    expect(b && stepMessage(b, { patient: { id: "p-1" } }, { a: { value: 41 } })).toEqual({ type: "work", value: 41, patient: "p-1", add: 2 });
  });
});
