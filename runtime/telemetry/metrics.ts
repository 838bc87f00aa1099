import {
  createNoopMeter,
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
  type ObservableGauge,
} from "@opentelemetry/api";

/**
 * Every instrument Tether records, with its OpenTelemetry name. `docs/observability.md` lists the
 * type, unit, attributes and meaning of each; a test keeps that list and this one in step.
 */
export const MetricNames = {
  messagesSent: "tether.messages.sent",
  messagesReceived: "tether.messages.received",
  messagesRejected: "tether.messages.rejected",
  askDuration: "tether.ask.duration",
  mailboxDepth: "tether.mailbox.depth",
  actorsHosted: "tether.actors.hosted",
  deadLetters: "tether.dead_letters",
  actorRestarts: "tether.actor.restarts",
  breakerState: "tether.circuit_breaker.state",
  breakerTransitions: "tether.circuit_breaker.transitions",
  failovers: "tether.failovers",
  ledgerPending: "tether.ledger.pending",
  ledgerAppendDuration: "tether.ledger.append.duration",
} as const;

/** How a message travels: `tell`, `ask`, a durable `send`, or a rollback `compensate` request. */
export type MessageKind = "tell" | "ask" | "send" | "compensate";
const KINDS: readonly MessageKind[] = ["tell", "ask", "send", "compensate"];

/** Breaker states as gauge values: more cautious is higher (the order breakers merge by). */
export const BreakerStateValue = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerStateName = keyof typeof BreakerStateValue;

/** What the mailbox and actor gauges read from each hosted actor at collection time (an `ActorCell`). */
export interface ObservedActor {
  readonly actorClass: { readonly name: string };
  readonly mailbox: { readonly size: number };
}

/** One breaker a node guards calls with, read at collection time. */
export interface ObservedBreaker {
  readonly target: string;
  readonly state: BreakerStateName;
}

/**
 * Latency buckets in seconds, from 0.5 ms to 30 s: the SDK's default boundaries (0, 5, 10, 25… up to
 * 10 000) are meant for milliseconds and would put every ask in the first two buckets.
 */
const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const NoopMeterClass = createNoopMeter().constructor;

/**
 * Tether's OpenTelemetry instruments for one node. The meter comes from the global MeterProvider unless
 * one is passed, so an application that registered the OTel SDK *before creating the node* gets the
 * metrics with no wiring (the API has no proxy meter provider: a provider registered later is not seen).
 * With the API's no-op provider, `enabled` is false and the message path skips even the timing work.
 *
 * Attributes stay low-cardinality: the network and node on everything, then the message kind, the
 * actor *type* (class name), the error code (`error.type`), the supervisor id, the breaker target.
 * Actor ids appear only where they are bounded by configuration (breaker targets). Attribute objects
 * are built once and reused, so recording allocates nothing per message.
 */
export class TetherMetrics {
  /** False when the meter is the API's no-op one (no SDK registered): callers may skip work. */
  readonly enabled: boolean;
  /** High-resolution time in ms for durations (default `performance.now`). */
  readonly now: () => number;
  readonly #meter: Meter;
  readonly #base: Attributes;
  readonly #askDuration: Histogram;
  readonly #restarts: Counter;
  readonly #breakerTransitions: Counter;
  readonly #failovers: Counter;
  readonly #ledgerAppend: Histogram;
  // message counts are plain integers read at collection (observable counters): recording one is an
  // increment, not an SDK call that hashes its attributes (measured: the SDK's Counter.add on a local
  // ask path cost a third of its throughput)
  readonly #sent: Readonly<Record<MessageKind, Tally>>;
  readonly #received = new Map<string, Readonly<Record<MessageKind, Tally>>>();
  readonly #rejected = new Map<string, Tally>();
  readonly #deadLetters = new Map<string, Tally>();
  readonly #codeAttrs = new Map<string, Attributes>();
  readonly #typeAttrs = new Map<string, Attributes>();
  readonly #actorSources = new Set<() => Iterable<ObservedActor>>();
  readonly #breakerSources = new Set<() => Iterable<ObservedBreaker>>();
  readonly #ledgerSources = new Set<() => number>();
  readonly #observables: Observable[];
  readonly #collect: BatchObservableCallback;

  constructor(provider: MeterProvider | undefined, labels: { network: string; node: string }, now: () => number = () => performance.now()) {
    this.#meter = (provider ?? metrics.getMeterProvider()).getMeter("tether-agents", "0.1.0");
    this.enabled = !(this.#meter instanceof NoopMeterClass);
    this.now = now;
    this.#base = Object.freeze({ "tether.network": labels.network, "tether.node": labels.node });
    const m = this.#meter;
    const sent = m.createObservableCounter(MetricNames.messagesSent, { description: "Messages sent by this node (tell, ask, durable send, compensate), local or over NATS", unit: "{message}" });
    const received = m.createObservableCounter(MetricNames.messagesReceived, { description: "Messages accepted into the mailbox of an actor hosted here", unit: "{message}" });
    const rejected = m.createObservableCounter(MetricNames.messagesRejected, { description: "Messages for an actor hosted here that never reached its mailbox, by error code", unit: "{message}" });
    const deadLetters = m.createObservableCounter(MetricNames.deadLetters, { description: "Dead-letter records written by this node, by error code", unit: "{message}" });
    this.#askDuration = m.createHistogram(MetricNames.askDuration, {
      description: "Time from sending an ask to its reply or error, as the caller sees it",
      unit: "s",
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    this.#restarts = m.createCounter(MetricNames.actorRestarts, { description: "Children restarted by supervisors running on this node", unit: "{restart}" });
    this.#breakerTransitions = m.createCounter(MetricNames.breakerTransitions, { description: "Circuit-breaker state changes on this node (local or adopted from the cluster)", unit: "{transition}" });
    this.#failovers = m.createCounter(MetricNames.failovers, { description: "Actors this node took over from a dead (or restarted) node", unit: "{actor}" });
    this.#ledgerAppend = m.createHistogram(MetricNames.ledgerAppendDuration, {
      description: "Time for one batch of audit-ledger appends to be acknowledged",
      unit: "s",
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    const depth = m.createObservableGauge(MetricNames.mailboxDepth, { description: "Messages waiting in the mailboxes of actors hosted here, summed by actor type", unit: "{message}" });
    const hosted = m.createObservableGauge(MetricNames.actorsHosted, { description: "Actors hosted on this node, by actor type", unit: "{actor}" });
    const breakerState = m.createObservableGauge(MetricNames.breakerState, { description: "State of each circuit breaker on this node: 0 closed, 1 half-open, 2 open", unit: "1" });
    const ledgerPending = m.createObservableGauge(MetricNames.ledgerPending, { description: "Audit-ledger entries waiting for their receipt (queued or in flight)", unit: "{entry}" });
    this.#sent = this.#byKind(this.#base, "send");
    this.#observables = [sent, received, rejected, deadLetters, depth, hosted, breakerState, ledgerPending];
    this.#collect = (result) => {
      for (const t of Object.values(this.#sent)) if (t.n > 0) result.observe(sent, t.n, t.attrs);
      for (const byKind of this.#received.values()) for (const t of Object.values(byKind)) if (t.n > 0) result.observe(received, t.n, t.attrs);
      for (const t of this.#rejected.values()) result.observe(rejected, t.n, t.attrs);
      for (const t of this.#deadLetters.values()) result.observe(deadLetters, t.n, t.attrs);
      this.#observeActors(depth, hosted, result.observe.bind(result));
      for (const source of this.#breakerSources) {
        for (const b of source()) result.observe(breakerState, BreakerStateValue[b.state], { ...this.#base, "tether.breaker.target": b.target });
      }
      if (this.#ledgerSources.size > 0) {
        let pending = 0;
        for (const source of this.#ledgerSources) pending += source();
        result.observe(ledgerPending, pending, this.#base);
      }
    };
    m.addBatchObservableCallback(this.#collect, this.#observables);
  }

  /** One message sent (counted once per send attempt that passed the sender's own checks). */
  sent(kind: MessageKind): void {
    this.#sent[kind].n++;
  }

  /** One message accepted into a hosted actor's mailbox. */
  received(kind: MessageKind, actorType: string): void {
    let byKind = this.#received.get(actorType);
    if (byKind === undefined) {
      byKind = this.#byKind({ ...this.#base, "tether.actor.type": actorType }, "receive");
      this.#received.set(actorType, byKind);
    }
    byKind[kind].n++;
  }

  /** A message for a hosted actor refused before its mailbox (schema, paused, stopping, full, ECT…). */
  rejected(code: string): void {
    this.#tally(this.#rejected, code).n++;
  }

  /** One ask finished after `seconds`; `code` is the error code when it failed. */
  askFinished(seconds: number, code: string | undefined): void {
    this.#askDuration.record(seconds, code === undefined ? this.#base : this.#code(code));
  }

  deadLetter(code: string): void {
    this.#tally(this.#deadLetters, code).n++;
  }

  /** `children` restarted by supervisor `supervisorId` (ids of supervision trees are configuration). */
  actorRestarts(supervisorId: string, children: number): void {
    if (children > 0) this.#restarts.add(children, { ...this.#base, "tether.supervisor.id": supervisorId });
  }

  breakerTransition(to: BreakerStateName, reason: string): void {
    this.#breakerTransitions.add(1, { ...this.#base, "tether.breaker.state": to, "tether.breaker.reason": reason });
  }

  /** An actor of class `actorType` taken over by this node. */
  failedOver(actorType: string): void {
    this.#failovers.add(1, this.#type(actorType));
  }

  /** One batch of ledger appends settled after `seconds` (`code` set when it failed). */
  ledgerAppended(seconds: number, code: string | undefined): void {
    this.#ledgerAppend.record(seconds, code === undefined ? this.#base : this.#code(code));
  }

  /** Reads hosted actors at each collection (mailbox depth, actors hosted). Returns the unregister function. */
  observeActors(source: () => Iterable<ObservedActor>): () => void {
    return track(this.#actorSources, source);
  }

  /** Reads breaker states at each collection. Returns the unregister function. */
  observeBreakers(source: () => Iterable<ObservedBreaker>): () => void {
    return track(this.#breakerSources, source);
  }

  /** Reads the number of ledger entries awaiting a receipt at each collection. */
  observeLedger(source: () => number): () => void {
    return track(this.#ledgerSources, source);
  }

  /** Detaches the gauges from the meter (node close): a closed node reports nothing more. */
  close(): void {
    this.#actorSources.clear();
    this.#breakerSources.clear();
    this.#ledgerSources.clear();
    this.#meter.removeBatchObservableCallback(this.#collect, this.#observables);
  }

  #observeActors(depth: ObservableGauge, hosted: ObservableGauge, observe: (o: Observable, value: number, attrs: Attributes) => void): void {
    if (this.#actorSources.size === 0) return;
    const byType = new Map<string, { depth: number; count: number }>();
    for (const source of this.#actorSources) {
      for (const cell of source()) {
        const type = cell.actorClass.name;
        const entry = byType.get(type);
        if (entry === undefined) byType.set(type, { depth: cell.mailbox.size, count: 1 });
        else {
          entry.depth += cell.mailbox.size;
          entry.count++;
        }
      }
    }
    for (const [type, entry] of byType) {
      const attrs = this.#type(type);
      observe(depth, entry.depth, attrs);
      observe(hosted, entry.count, attrs);
    }
  }

  #byKind(base: Attributes, operation: "send" | "receive"): Readonly<Record<MessageKind, Tally>> {
    const out = {} as Record<MessageKind, Tally>;
    for (const kind of KINDS) out[kind] = { attrs: Object.freeze({ ...base, "messaging.system": "nats", "messaging.operation.name": operation, "tether.message.kind": kind }), n: 0 };
    return Object.freeze(out);
  }

  #tally(map: Map<string, Tally>, code: string): Tally {
    let tally = map.get(code);
    if (tally === undefined) {
      tally = { attrs: this.#code(code), n: 0 };
      map.set(code, tally);
    }
    return tally;
  }

  #code(code: string): Attributes {
    let attrs = this.#codeAttrs.get(code);
    if (attrs === undefined) {
      attrs = Object.freeze({ ...this.#base, "error.type": code });
      this.#codeAttrs.set(code, attrs);
    }
    return attrs;
  }

  #type(actorType: string): Attributes {
    let attrs = this.#typeAttrs.get(actorType);
    if (attrs === undefined) {
      attrs = Object.freeze({ ...this.#base, "tether.actor.type": actorType });
      this.#typeAttrs.set(actorType, attrs);
    }
    return attrs;
  }
}

/** A count and the attributes it is reported with (built once). */
interface Tally {
  readonly attrs: Attributes;
  n: number;
}

const track = <T>(set: Set<T>, item: T): (() => void) => {
  set.add(item);
  return () => void set.delete(item);
};
