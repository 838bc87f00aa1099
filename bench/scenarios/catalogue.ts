import { InvalidArgumentError } from "commander";
import type { Scenario } from "./scenario.ts";
import { trading } from "./trading.ts";
import { triage } from "./triage.ts";

/** The scenarios `bench agents <scenario>` can run, by name. */
export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map([triage, trading].map((s) => [s.name, s]));

export const scenarioNames = (): string[] => [...SCENARIOS.keys()];

/** The scenario of that name; an unknown name fails with the list of those that exist. */
export const findScenario = (name: string): Scenario => {
  const found = SCENARIOS.get(name);
  if (found === undefined) throw new InvalidArgumentError(`unknown scenario ${JSON.stringify(name)}: available scenarios are ${scenarioNames().join(", ")}`);
  return found;
};
