import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/index.ts";

const leaves = (c: Command, path: string[] = []): { path: string; command: Command }[] =>
  c.commands.length === 0 ? [{ path: path.join(" "), command: c }] : c.commands.flatMap((sub) => leaves(sub, [...path, sub.name()]));

const help = (c: Command): string => {
  let text = "";
  c.configureOutput({ writeOut: (s) => (text += s) });
  c.outputHelp();
  return text;
};

describe("the tether command line", () => {
  const program = buildProgram();
  const commands = leaves(program);

  it("shows at least one example in the help of every command", () => {
    const without = commands.filter(({ command }) => !/\nExamples?:\n {2}\$ .*\btether /.test(help(command))).map((c) => c.path);
    expect(without).toEqual([]);
  });

  it("gives --nats one default everywhere, overridable by TETHER_NATS_URL", () => {
    const nats = commands.flatMap(({ path, command }) => command.options.filter((o) => o.long === "--nats").map((o) => ({ path, default: o.defaultValue as unknown, env: o.envVar })));
    expect(nats.length).toBeGreaterThanOrEqual(15);
    for (const n of nats) expect(n).toEqual({ path: n.path, default: "nats://127.0.0.1:4222", env: "TETHER_NATS_URL" });
  });

  it("takes --creds (or TETHER_CREDS) on every command that takes --nats", () => {
    const nats = commands.filter(({ command }) => command.options.some((o) => o.long === "--nats"));
    const without = nats.filter(({ command }) => !command.options.some((o) => o.long === "--creds" && o.envVar === "TETHER_CREDS")).map((c) => c.path);
    expect(nats.length).toBeGreaterThanOrEqual(15);
    expect(without).toEqual([]);
  });

  it("offers --json on every command that prints a table", () => {
    const tables = ["agents ls", "nodes ls", "keys ls", "usage", "dlq ls"];
    const withJson = commands.filter(({ command }) => command.options.some((o) => o.long === "--json")).map((c) => c.path);
    expect(withJson).toEqual(expect.arrayContaining(tables));
  });
});
