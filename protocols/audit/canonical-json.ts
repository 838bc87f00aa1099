import { auditError } from "./audit-errors.ts";
import { AuditLimits } from "./limits.ts";

/** A UTF-16 surrogate that is not half of a pair (with the `u` flag a pair is one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

const refuse = (path: string, reason: string): never => {
  throw auditError("ERR_AUDIT_CANONICAL_JSON", `cannot canonicalize ${path}: ${reason}`, { path, reason });
};

const writeString = (text: string, path: string, out: string[]): void => {
  if (LONE_SURROGATE.test(text)) refuse(path, "a string holds a lone surrogate");
  // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 asks: `"`, `\`, and the control
  // characters (\b \t \n \f \r, the rest as \u00xx in lower case); everything else is literal.
  out.push(JSON.stringify(text));
};

const write = (value: unknown, path: string, ancestors: Set<object>, out: string[]): void => {
  switch (typeof value) {
    case "string":
      writeString(value, path, out);
      return;
    case "number":
      if (!Number.isFinite(value)) refuse(path, `${String(value)} is not a JSON number`);
      // ECMAScript Number-to-String is the serialization RFC 8785 §3.2.2.3 prescribes (-0 gives "0").
      out.push(String(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "object":
      break;
    default:
      // undefined (here only at the top level or in an array), bigint, symbol, function
      return refuse(path, `a ${typeof value} is not a JSON value`);
  }
  if (value === null) {
    out.push("null");
    return;
  }
  if (ancestors.has(value)) refuse(path, "the value is cyclic");
  if (ancestors.size >= AuditLimits.maxJsonDepth) refuse(path, `nesting deeper than ${AuditLimits.maxJsonDepth}`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i += 1) {
      if (i > 0) out.push(",");
      write(value[i], `${path}[${i}]`, ancestors, out);
    }
    out.push("]");
  } else {
    if (!isPlainObject(value)) refuse(path, `a ${value.constructor?.name ?? "non-plain"} object is not a JSON object`);
    const record = value as Record<string, unknown>;
    // Array.prototype.sort compares UTF-16 code units, the order RFC 8785 §3.2.3 asks for.
    const keys = Object.keys(record).sort();
    let first = true;
    out.push("{");
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue; // as JSON.stringify: an undefined member is absent
      if (!first) out.push(",");
      first = false;
      const memberPath = `${path}.${key.length > 64 ? `${key.slice(0, 64)}…` : key}`;
      writeString(key, memberPath, out);
      out.push(":");
      write(member, memberPath, ancestors, out);
    }
    out.push("}");
  }
  ancestors.delete(value);
};

/**
 * The RFC 8785 (JSON Canonicalization Scheme) form of a JSON value: object members sorted by
 * UTF-16 code units, numbers as ECMAScript prints them, strings escaped as JSON.stringify does,
 * no whitespace. Object members whose value is `undefined` are left out (as JSON.stringify does).
 *
 * Throws ERR_AUDIT_CANONICAL_JSON for what I-JSON cannot hold: NaN and ±Infinity, strings or keys
 * with a lone surrogate, `undefined` at the top level or in an array, functions, symbols, bigints,
 * objects that are not plain (Date, Map, class instances: `toJSON` is not called), cycles, and
 * nesting deeper than `AuditLimits.maxJsonDepth`.
 */
export const canonicalJson = (value: unknown): string => {
  const out: string[] = [];
  write(value, "$", new Set(), out);
  return out.join("");
};

/** Length of the canonical form in UTF-8 bytes. */
export const canonicalJsonBytes = (value: unknown): number => Buffer.byteLength(canonicalJson(value), "utf8");
