import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAgentsModule } from "../../cli/index.ts";
import { isTetherError } from "../../protocols/index.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-agents-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const node = { nodeId: "n1", network: "default" };
const moduleWith = (name: string, source: string): string => {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, source);
  return path;
};
const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (isTetherError(e) ? e.code : String(e)),
  );

describe("loadAgentsModule", () => {
  it("reads the supervision trees a module exports next to (or instead of) its agents", async () => {
    const loaded = await loadAgentsModule("test/fixtures/supervision-agents.ts", node);
    expect(loaded.agents).toEqual([]);
    expect(loaded.supervisors.map((s) => s.id)).toEqual(["fleet"]);
    expect(loaded.supervisors[0]?.children.map((c) => c.id)).toEqual(["fleet-a", "fleet-b", "fleet-c"]);
    const onlyTrees = moduleWith("only-trees", `export const supervisors = (n) => [{ id: "t-" + n.nodeId, children: [{ id: "w", start: () => ({}) }] }];`);
    expect((await loadAgentsModule(onlyTrees, node)).supervisors.map((s) => s.id)).toEqual(["t-n1"]);
  });

  it("refuses a module whose supervisors are not a list of valid trees, or that exports nothing usable", async () => {
    expect(await codeOf(loadAgentsModule(moduleWith("not-list", `export const supervisors = "fleet";`), node))).toBe("ERR_AGENTS_MODULE_INVALID");
    expect(await codeOf(loadAgentsModule(moduleWith("no-start", `export const supervisors = [{ id: "t", children: [{ id: "w" }] }];`), node))).toBe("ERR_AGENTS_MODULE_INVALID");
    const twice = `const t = { id: "t", children: [] }; export const supervisors = [t, t];`;
    expect(await codeOf(loadAgentsModule(moduleWith("twice", twice), node))).toBe("ERR_AGENTS_MODULE_INVALID");
    expect(await codeOf(loadAgentsModule(moduleWith("empty", `export const other = 1;`), node))).toBe("ERR_AGENTS_MODULE_INVALID");
  });
});
