/**
 * Seeded randomness for agent scenarios: the same seed gives the same workload and the same agent
 * behaviour, so a run can be repeated, and the variation between runs comes from the per-run seed
 * (and from measured time), never from `Math.random`.
 */

/** A uniform draw in [0, 1). */
export type Random = () => number;

/** mulberry32: small, fast, and good enough for synthetic workloads (not for anything secret). */
export const seededRandom = (seed: number): Random => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** One 32-bit seed from several parts (FNV-1a over their text), e.g. (base seed, run, agent id). */
export const mixSeed = (...parts: readonly (number | string)[]): number => {
  let h = 0x811c9dc5;
  for (const ch of parts.join("\u0000")) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
};

/** A standard normal draw (Box–Muller). */
export const normal = (random: Random): number => {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
};

/** An integer in [min, max]. */
export const intBetween = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

/** One element of a non-empty list. */
export const pick = <T>(random: Random, items: readonly [T, ...T[]]): T => items[Math.floor(random() * items.length)] ?? items[0];
