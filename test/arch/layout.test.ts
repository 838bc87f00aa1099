import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const SOURCE = ["protocols", "runtime", "supervisors", "actors", "cli"] as const;
type Folder = (typeof SOURCE)[number];

/** Which folders each source folder may import (dependencies point one way). */
const ALLOWED: Record<Folder, readonly Folder[]> = {
  protocols: [],
  runtime: ["protocols"],
  supervisors: ["runtime", "protocols"],
  actors: ["runtime", "protocols", "supervisors"],
  cli: ["runtime", "protocols", "supervisors", "actors"],
};
/** protocols/ holds formats and pure validation: only these packages. */
const PROTOCOL_PACKAGES = ["zod", "jose", "msgpackr"];

const tsFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((name) => {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) return name === "node_modules" ? [] : tsFiles(p);
        return p.endsWith(".ts") ? [p] : [];
      })
    : [];

const importsOf = (file: string): string[] => {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+["']([^"']+)["']/g)) out.push(m[1] as string);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1] as string);
  return out;
};

const topFolder = (absolute: string): string => relative(root, absolute).split(sep)[0] ?? "";

describe("layout", () => {
  it.each(SOURCE)("%s/ has one public index.ts that names its exports", (folder) => {
    const index = join(root, folder, "index.ts");
    expect(existsSync(index)).toBe(true);
    expect(readFileSync(index, "utf8")).not.toMatch(/export\s*\*/);
  });

  it("imports another folder only through its index.ts", () => {
    const offenders: string[] = [];
    for (const folder of [...SOURCE, "bench", "examples", "scripts", "test"]) {
      for (const file of tsFiles(join(root, folder))) {
        for (const spec of importsOf(file)) {
          if (!spec.startsWith(".")) continue;
          const target = resolve(dirname(file), spec);
          const from = topFolder(file);
          const to = topFolder(target);
          if (from === to || !(SOURCE as readonly string[]).includes(to)) continue;
          const internalForTests = from === "test" && relative(root, target) === join(to, "internal.ts");
          if (relative(root, target) !== join(to, "index.ts") && !internalForTests) offenders.push(`${relative(root, file)} imports ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("points dependencies one way: protocols ← runtime ← supervisors ← actors ← cli", () => {
    const offenders: string[] = [];
    for (const folder of SOURCE) {
      for (const file of tsFiles(join(root, folder))) {
        for (const spec of importsOf(file)) {
          if (spec.startsWith(".")) {
            const to = topFolder(resolve(dirname(file), spec));
            if (to !== folder && !(ALLOWED[folder] as readonly string[]).includes(to)) offenders.push(`${relative(root, file)} → ${to}/`);
          } else if (folder === "protocols" && !spec.startsWith("node:") && !PROTOCOL_PACKAGES.includes(spec)) {
            offenders.push(`${relative(root, file)} uses package ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("orders the rooms of runtime/: each imports only rooms below it (node.ts assembles them all)", () => {
    // lowest first; the node kernel (node-core, node-options, node-events) sits between assurance and messaging
    const ROOMS = ["support", "telemetry", "embedded", "actor", "stores", "assurance", "kernel", "messaging", "interceptors", "rollback", "hosting", "cluster", "assembly"];
    const KERNEL = ["node-core.ts", "node-options.ts", "node-events.ts"];
    const roomOf = (file: string): string => {
      const parts = relative(join(root, "runtime"), file).split(sep);
      if (parts.length > 1) return parts[0] as string;
      return KERNEL.includes(parts[0] as string) ? "kernel" : "assembly";
    };
    const offenders: string[] = [];
    for (const file of tsFiles(join(root, "runtime"))) {
      const from = roomOf(file);
      expect(ROOMS, `${relative(root, file)} is in an unknown room`).toContain(from);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const target = resolve(dirname(file), spec);
        if (topFolder(target) !== "runtime") continue;
        const to = roomOf(target);
        if (to !== from && ROOMS.indexOf(to) > ROOMS.indexOf(from)) offenders.push(`${relative(root, file)} (${from}) imports ${to}/`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("uses no enum and no mutable module-level `let`", () => {
    const offenders: string[] = [];
    for (const folder of SOURCE) {
      for (const file of tsFiles(join(root, folder))) {
        const text = readFileSync(file, "utf8");
        if (/^\s*(export\s+)?(const\s+)?enum\s/m.test(text)) offenders.push(`${relative(root, file)}: enum`);
        if (/^(export\s+)?let\s/m.test(text)) offenders.push(`${relative(root, file)}: module-level let`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
