/**
 * One profile of the `ect` workflow bench alone, for profiling (not part of `npm run bench`):
 *   node --import tsx bench/profile-workflow.ts regulated 1000 [out.cpuprofile]
 * Warms up, runs `n` workflows under the V8 profiler (written to the given path, default
 * ./<profile>.cpuprofile; NOPROF=1 skips it), then `n` more unprofiled, and prints steps/s and CPU per step.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "node:inspector/promises";
import { ProfileWorld } from "./ect-workflow.ts";

const profile = (process.argv[2] ?? "regulated") as "regulated" | "relaxed";
const n = Number(process.argv[3] ?? 1000);
const out = process.argv[4] ?? `${profile}.cpuprofile`;
const keyDir = mkdtempSync(join(tmpdir(), "prof-"));
const w = new ProfileWorld(profile);
try {
  await w.start({ rounds: 1, workflows: n, lanes: 16, keyDir });
  await w.run(64, 16);
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  if (process.env.NOPROF === undefined) await session.post("Profiler.start");
  const r = await w.run(n, 16);
  if (process.env.NOPROF === undefined) {
    const { profile: prof } = await session.post("Profiler.stop");
    writeFileSync(out, JSON.stringify(prof));
  }
  console.log(profile, Math.round(r.stepsPerSecond), "steps/s; cpu", r.cpuPerStep.toFixed(0), "µs/step; ledger:", w.ledgerTally.summary());
  const r2 = await w.run(n, 16);
  console.log(profile, "(unprofiled)", Math.round(r2.stepsPerSecond), "steps/s; cpu", r2.cpuPerStep.toFixed(0), "µs/step");
} finally {
  await w.stop();
  rmSync(keyDir, { recursive: true, force: true });
}
