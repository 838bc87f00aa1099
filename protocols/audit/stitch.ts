import type { ResolveCheckpointKey } from "./checkpoint.ts";
import { safeParseRecord, type AssuranceLevel } from "./record.ts";
import { verifyLedger, type LedgerProblem } from "./verify-ledger.ts";

/** One network's ledger as read from its stream, in stored order. */
export interface LedgerSource {
  readonly network: string;
  readonly records: readonly unknown[];
}

/** One task of the workflow (one ECT), wherever it was recorded. */
export interface StitchedStep {
  readonly jti: string;
  readonly par: readonly string[];
  readonly iat: number;
  readonly exec_act: string;
  readonly iss: string;
  readonly level: AssuranceLevel;
  readonly token: string;
  /** Every ledger record of this token, in input order (a token may be recorded by several networks). */
  readonly seenIn: readonly { readonly network: string; readonly index: number }[];
}

export interface StitchResult {
  readonly wid: string;
  /** Causal order: parents before children; among tasks ready at once, by `iat`, then `jti`. */
  readonly steps: readonly StitchedStep[];
  /** Ledgers that did not verify; none of their records was used. */
  readonly failedLedgers: readonly { readonly network: string; readonly problem: LedgerProblem }[];
  /** Parents named in `par` that are in no verified ledger, sorted. */
  readonly missingParents: readonly string[];
  /** Parents found in a verified ledger but outside this workflow (another or no `wid`), sorted. */
  readonly outsideParents: readonly string[];
  /** Each cycle's jtis (a strongly connected set, or a task naming itself), by `iat` then `jti`. */
  readonly cycles: readonly (readonly string[])[];
  /** jtis recorded with different tokens; the first one met (in input order) is kept. */
  readonly conflicts: readonly string[];
}

export interface StitchOptions {
  readonly resolveKey: ResolveCheckpointKey;
  /** Anchors per network name, passed to `verifyLedger`. */
  readonly anchors?: Readonly<Record<string, readonly string[]>>;
}

const before = (a: StitchedStep, b: StitchedStep): boolean => a.iat < b.iat || (a.iat === b.iat && a.jti < b.jti);
const byTime = (a: StitchedStep, b: StitchedStep): number => (before(a, b) ? -1 : before(b, a) ? 1 : 0);

/** A binary min-heap on `before`: the ready set of the topological sort. */
const readyQueue = () => {
  const heap: StitchedStep[] = [];
  const swap = (i: number, j: number) => {
    const t = heap[i] as StitchedStep;
    heap[i] = heap[j] as StitchedStep;
    heap[j] = t;
  };
  return {
    get size() {
      return heap.length;
    },
    push(step: StitchedStep): void {
      heap.push(step);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!before(heap[i] as StitchedStep, heap[parent] as StitchedStep)) break;
        swap(i, parent);
        i = parent;
      }
    },
    pop(): StitchedStep {
      const top = heap[0] as StitchedStep;
      const last = heap.pop() as StitchedStep;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && before(heap[l] as StitchedStep, heap[m] as StitchedStep)) m = l;
          if (r < heap.length && before(heap[r] as StitchedStep, heap[m] as StitchedStep)) m = r;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      return top;
    },
  };
};

/** Strongly connected components of the given nodes (iterative Tarjan: no deep recursion). */
const components = (nodes: readonly string[], edges: (jti: string) => readonly string[]): string[][] => {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (order.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    order.set(root, counter);
    low.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: number };
      const targets = edges(frame.node);
      if (frame.next < targets.length) {
        const target = targets[frame.next] as string;
        frame.next += 1;
        if (!order.has(target)) {
          order.set(target, counter);
          low.set(target, counter);
          counter += 1;
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, order.get(target) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === order.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        out.push(component);
      }
    }
  }
  return out;
};

/**
 * Rebuilds one workflow from the ledgers of several networks: verifies each ledger (a failing one
 * is reported and left out), collects the `ect` records whose `wid` is `wid`, merges the same token
 * recorded in several ledgers into one step, and orders the steps causally (a parent before its
 * children by `par`; ties by `iat`, then `jti`). Steps on or after a cycle cannot be ordered
 * causally: they come last, by `iat` then `jti`, and each cycle is listed in `cycles`.
 */
export const stitchWorkflow = async (
  ledgers: readonly LedgerSource[],
  wid: string,
  options: StitchOptions,
): Promise<StitchResult> => {
  const failedLedgers: { network: string; problem: LedgerProblem }[] = [];
  const steps = new Map<string, StitchedStep & { seenIn: { network: string; index: number }[] }>();
  const everyJti = new Set<string>();
  const conflicts = new Set<string>();

  for (const ledger of ledgers) {
    const anchors = options.anchors?.[ledger.network];
    const verdict = await verifyLedger(ledger.records, {
      resolveKey: options.resolveKey,
      network: ledger.network,
      ...(anchors === undefined ? {} : { anchors }),
    });
    if (!verdict.ok) {
      if (verdict.firstProblem !== undefined) failedLedgers.push({ network: ledger.network, problem: verdict.firstProblem });
      continue;
    }
    for (const raw of ledger.records) {
      const record = safeParseRecord(raw); // it parses: the ledger verified
      if (record?.kind !== "ect") continue;
      const { body } = record;
      everyJti.add(body.jti);
      if (body.wid !== wid) continue;
      const known = steps.get(body.jti);
      if (known === undefined) {
        steps.set(body.jti, {
          jti: body.jti,
          par: body.par,
          iat: body.iat,
          exec_act: body.exec_act,
          iss: body.iss,
          level: body.level,
          token: body.token,
          seenIn: [{ network: record.network, index: record.index }],
        });
      } else if (known.token === body.token) {
        known.seenIn.push({ network: record.network, index: record.index });
      } else {
        conflicts.add(body.jti);
      }
    }
  }

  const children = new Map<string, string[]>();
  const waitingOn = new Map<string, number>();
  const missing = new Set<string>();
  const outside = new Set<string>();
  for (const step of steps.values()) {
    let inside = 0;
    for (const parent of new Set(step.par)) {
      if (steps.has(parent)) {
        inside += 1;
        const list = children.get(parent);
        if (list === undefined) children.set(parent, [step.jti]);
        else list.push(step.jti);
      } else if (everyJti.has(parent)) {
        outside.add(parent);
      } else {
        missing.add(parent);
      }
    }
    waitingOn.set(step.jti, inside);
  }

  const ordered: StitchedStep[] = [];
  const ready = readyQueue();
  for (const step of steps.values()) if (waitingOn.get(step.jti) === 0) ready.push(step);
  while (ready.size > 0) {
    const step = ready.pop();
    ordered.push(step);
    for (const child of children.get(step.jti) ?? []) {
      const left = (waitingOn.get(child) as number) - 1;
      waitingOn.set(child, left);
      if (left === 0) ready.push(steps.get(child) as StitchedStep);
    }
  }

  const placed = new Set(ordered.map((step) => step.jti));
  const leftover = [...steps.values()].filter((step) => !placed.has(step.jti)).sort(byTime);
  const leftoverIds = new Set(leftover.map((step) => step.jti));
  const edges = (jti: string) => (children.get(jti) ?? []).filter((child) => leftoverIds.has(child));
  const cycles = components(
    leftover.map((step) => step.jti),
    edges,
  )
    .filter((component) => component.length > 1 || edges(component[0] as string).includes(component[0] as string))
    .map((component) => component.map((jti) => steps.get(jti) as StitchedStep).sort(byTime).map((step) => step.jti))
    .sort((a, b) => byTime(steps.get(a[0] as string) as StitchedStep, steps.get(b[0] as string) as StitchedStep));

  return {
    wid,
    steps: [...ordered, ...leftover],
    failedLedgers,
    missingParents: [...missing].sort(),
    outsideParents: [...outside].sort(),
    cycles,
    conflicts: [...conflicts].sort(),
  };
};
