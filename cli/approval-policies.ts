import { readFileSync } from "node:fs";
import { extname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { ApprovalPolicy, RiskLevel, TetherError } from "../protocols/index.ts";

/**
 * What `tether node start --approval-policies <file>` loads: a JSON file or an ES module. Either holds
 * a list of policies, or `{ policies, risks }` (`risks`: risk level per action name, matched by
 * policies' `minRisk`). A module gives it as its default export, or as named exports `policies` and
 * `risks`.
 */
export const ApprovalPoliciesFile = z.union([
  z.array(ApprovalPolicy).max(1_000),
  z.strictObject({ policies: z.array(ApprovalPolicy).max(1_000), risks: z.record(z.string().max(256), RiskLevel).optional() }),
]);

export interface LoadedApprovalPolicies {
  readonly file: string;
  readonly policies: ApprovalPolicy[];
  readonly risks: Record<string, RiskLevel>;
}

const invalid = (file: string, problems: string[], cause?: unknown): TetherError =>
  new TetherError("ERR_APPROVAL_POLICIES_INVALID", `approval policies ${file}: ${problems.join("; ")}`, { details: { file, problems }, ...(cause === undefined ? {} : { cause }) });

const MODULE_EXTENSIONS = new Set([".js", ".mjs", ".ts", ".mts"]);

/** Reads, parses and validates an approval policies file (zod schemas of protocols/hitl.ts). Throws ERR_APPROVAL_POLICIES_INVALID naming each problem. */
export const loadApprovalPolicies = async (path: string): Promise<LoadedApprovalPolicies> => {
  const file = isAbsolute(path) ? path : resolve(process.cwd(), path);
  let raw: unknown;
  if (MODULE_EXTENSIONS.has(extname(file))) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (cause) {
      throw invalid(path, [`cannot load the module: ${String(cause).slice(0, 500)}`], cause);
    }
    raw = mod["default"] ?? (mod["policies"] === undefined ? undefined : { policies: mod["policies"], ...(mod["risks"] === undefined ? {} : { risks: mod["risks"] }) });
    if (raw === undefined) throw invalid(path, ["the module exports neither a default (policies, or { policies, risks }) nor `policies`"]);
  } else {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (cause) {
      throw invalid(path, [`cannot read the file: ${(cause as { code?: string }).code ?? String(cause)}`], cause);
    }
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      throw invalid(path, [`not JSON: ${(cause as Error).message}`], cause);
    }
  }
  const parsed = ApprovalPoliciesFile.safeParse(raw);
  if (!parsed.success) {
    // report against the shape the file meant: a list, or an object with `policies`
    const shape = Array.isArray(raw) ? z.array(ApprovalPolicy).max(1_000) : ApprovalPoliciesFile.options[1];
    const errors = shape.safeParse(raw).error ?? parsed.error;
    throw invalid(path, errors.issues.slice(0, 20).map((i) => `${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`));
  }
  const data = parsed.data;
  const policies = Array.isArray(data) ? data : data.policies;
  const ids = new Set<string>();
  const duplicates = policies.filter((p) => (ids.has(p.id) ? true : (ids.add(p.id), false))).map((p) => `duplicate policy id "${p.id}"`);
  if (duplicates.length > 0) throw invalid(path, duplicates);
  return { file, policies, risks: Array.isArray(data) ? {} : (data.risks ?? {}) };
};
