/** A progress line on stderr for long reads (`tether audit verify`). */
export interface Progress {
  /** `count` items done so far; redraws at most every `intervalMs`. */
  update(count: number): void;
  /** Draws the final count and ends the line. */
  done(count: number): void;
}

export interface ProgressOptions {
  readonly label: string;
  /** Items expected, when known: adds "of N (P%)". */
  readonly total?: number;
  readonly unit: string;
  /** Default: on a terminal 100 ms (one line redrawn in place), elsewhere 2 s (one line each). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

const silent: Progress = { update: () => undefined, done: () => undefined };

/**
 * Progress on `out`: `enabled` undefined means "when `out` is a terminal" (`--progress` forces it on,
 * `--no-progress` off). On a terminal the line is redrawn in place; elsewhere (a log file, a test)
 * each report is a line of its own.
 */
export const startProgress = (out: NodeJS.WriteStream, enabled: boolean | undefined, options: ProgressOptions): Progress => {
  const tty = out.isTTY === true;
  if (!(enabled ?? tty)) return silent;
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? (tty ? 100 : 2_000);
  const started = now();
  let last = started;
  const line = (count: number): string => {
    const seconds = Math.max((now() - started) / 1000, 0.001);
    const of = options.total === undefined ? "" : ` of ${options.total.toLocaleString("en-US")}${options.total > 0 ? ` (${Math.floor((100 * count) / options.total)}%)` : ""}`;
    return `${options.label}: ${count.toLocaleString("en-US")}${of} ${options.unit}, ${Math.round(count / seconds).toLocaleString("en-US")}/s`;
  };
  const draw = (count: number, final: boolean): void => {
    out.write(tty ? `\r\x1b[K${line(count)}${final ? "\n" : ""}` : `${line(count)}\n`);
  };
  return {
    update(count) {
      const t = now();
      if (t - last < interval) return;
      last = t;
      draw(count, false);
    },
    done(count) {
      draw(count, true);
    },
  };
};
