import type { Command } from "commander";

type ErrorWithCode = Error & { code?: string };

/**
 * Makes a closed pipe on stdout or stderr (`tether agents ls --json | head -1`) end the command
 * quietly instead of crashing with an unhandled EPIPE. A command that drains on SIGTERM (`node start`,
 * `audit serve`, `cluster up`) drains the same way; any other command exits 0 at once, as Unix tools
 * do on SIGPIPE. Later write errors on the closed stream are ignored.
 */
export const endQuietlyOnBrokenPipe = (proc: NodeJS.Process = process): void => {
  let closed = false;
  const onError = (error: ErrorWithCode): void => {
    if (closed) return;
    if (error.code !== "EPIPE") throw error;
    closed = true;
    if (proc.listenerCount("SIGTERM") > 0) proc.emit("SIGTERM", "SIGTERM");
    else proc.exit(proc.exitCode ?? 0);
  };
  proc.stdout.on("error", onError);
  proc.stderr.on("error", onError);
};

/** Prints rows either as one JSON object per line (`--json`) or as an aligned table. */
export const printRows = <R>(json: boolean | undefined, rows: readonly R[], table: { head: string[]; cells: (row: R) => string[]; empty: string }): void => {
  if (json === true) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`${table.empty}\n`);
    return;
  }
  printTable(table.head, rows.map(table.cells));
};

/** One value: its JSON (`--json`) or its text for people. */
export const printOne = <T>(json: boolean | undefined, value: T, text: (value: T) => string): void => {
  process.stdout.write(json === true ? `${JSON.stringify(value)}\n` : text(value));
};

export const printTable = (head: string[], rows: string[][]): void => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  process.stdout.write(`${[line(head), ...rows.map(line)].join("\n")}\n`);
};

/** The `--json` flag of a command that prints a table. */
export const jsonFlag = (c: Command): Command => c.option("--json", "one JSON object per line instead of a table");

/** Appends worked examples to a command's help (`tether <cmd> --help`). */
export const examples = (c: Command, ...lines: string[]): Command => c.addHelpText("after", `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);
