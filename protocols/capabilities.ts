import { z } from "zod";
import { TetherError } from "./errors.ts";

/** A dotted numeric version ("1", "1.0", "2.13.1"), compared part by part. */
export const Version = z.string().regex(/^\d{1,6}(\.\d{1,6}){0,3}$/, "a version is dotted numbers, e.g. 1.0");
export type Version = z.infer<typeof Version>;

/** One advertised capability: an action name and the message-schema versions the agent speaks for it. */
export const AdvertisedCapability = z.strictObject({
  name: z.string().min(1).max(128),
  versions: z.array(Version).max(32).default([]),
});
export type AdvertisedCapability = z.output<typeof AdvertisedCapability>;

/**
 * What an agent advertises in the registry beyond its plain capability names: capabilities with
 * message-schema versions, and protocol versions per protocol name (e.g. `{ "quote": ["1.0", "1.1"] }`).
 * Declared as a class's static `advertise` or the `advertise` spawn option.
 */
export const Advertisement = z.strictObject({
  capabilities: z.array(AdvertisedCapability).max(64).default([]),
  protocols: z.record(z.string().min(1).max(128), z.array(Version).max(32)).default({}),
});
export type Advertisement = z.output<typeof Advertisement>;
export type AdvertisementInput = z.input<typeof Advertisement>;

/** Compares two versions numerically part by part ("1.10" > "1.9"; "1" equals "1.0"). */
export const compareVersions = (a: string, b: string): number => {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
};

/** Parses a declared advertisement (class static or spawn option); a bad one is ERR_CONFIG_INVALID. */
export const advertisementOf = (input: AdvertisementInput | undefined): Advertisement | undefined => {
  if (input === undefined) return undefined;
  const parsed = Advertisement.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new TetherError("ERR_CONFIG_INVALID", `invalid advertisement: ${problems.join("; ")}`, { details: { problems } });
};

/** The plain capability names plus the advertised ones (so policy admission and `find` see them all). */
export const withAdvertised = (capabilities: readonly string[], advertise: Advertisement | undefined): string[] => {
  const out = [...capabilities];
  for (const c of advertise?.capabilities ?? []) if (!out.includes(c.name)) out.push(c.name);
  return out;
};
