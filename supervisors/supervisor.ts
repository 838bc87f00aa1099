import type { SupervisorStatus } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";
import { SupervisionHost, type SupervisorOptions } from "./supervision-host.ts";
import type { SupervisorEvent } from "./supervisor-events.ts";
import type { SupervisorSpec } from "./supervisor-spec.ts";

/**
 * A handle on a supervision tree (`defineSupervisor`). The supervisor itself is an actor
 * (`SupervisorActor`, id = the spec's id): checkpointed, and taken over by a survivor that registered
 * the tree when its node dies. Children start in order and stop in reverse, each within its time limit.
 * A child's failure reaches the supervisor as a message, never as an exception; the supervisor plans the
 * restart with its strategy and restart types, waits the backoff, and restarts. Exceeding the restart
 * intensity stops the children and escalates to the parent; a root that gives up raises `gave-up`,
 * records `supervisor.gave_up` in the audit ledger and stops.
 *
 * The handle's events, `children` and `restarts` are those seen on its node; `status()` asks the
 * supervisor wherever it runs now.
 */
export class Supervisor implements AsyncDisposable {
  readonly spec: SupervisorSpec;
  readonly host: SupervisionHost;
  readonly #listeners = new Set<(e: SupervisorEvent) => void>();
  readonly #unsubscribe: () => void;
  #restarts = 0;
  #stopping: Promise<void> | undefined;

  private constructor(host: SupervisionHost, spec: SupervisorSpec) {
    this.host = host;
    this.spec = spec;
    this.#unsubscribe = host.onEvent((e) => {
      if (e.supervisor !== spec.id) return;
      if (e.type === "children-restarted") this.#restarts++;
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch {
          /* a listener's failure is not the tree's */
        }
      }
    });
  }

  /**
   * Registers the tree on `node` and starts it there: every child in order. If a child fails to start,
   * the started ones stop again and this throws. Nodes that should be able to take the tree over must
   * register it too (`SupervisionHost.of(node).register(spec)`, or `tether node start --agents`).
   */
  static async start(node: Node, spec: SupervisorSpec, options: SupervisorOptions = {}): Promise<Supervisor> {
    const host = SupervisionHost.of(node);
    host.register(spec, options);
    const sup = new Supervisor(host, spec);
    try {
      await host.start(spec.id);
    } catch (error) {
      sup.#unsubscribe();
      throw error;
    }
    return sup;
  }

  onEvent(listener: (e: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ids of the children running now, while the supervisor runs on this node (else empty: see `status()`). */
  get children(): string[] {
    return this.host.local(this.spec.id)?.children ?? [];
  }

  /** Restarts performed so far (from the supervisor's state while it runs here, else as seen here). */
  get restarts(): number {
    return this.host.local(this.spec.id)?.state.restarts ?? this.#restarts;
  }

  /** A handle on the nested supervisor with this id. */
  child(id: string): Supervisor | undefined {
    const nested = this.spec.children.find((c) => c.id === id);
    return nested?.kind === "supervisor" ? new Supervisor(this.host, nested) : undefined;
  }

  /** The supervisor's phase, children and restarts, asked wherever it runs. */
  status(): Promise<SupervisorStatus> {
    return this.host.status(this.spec.id);
  }

  /** Stops every child in reverse start order, then the supervisor. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#unsubscribe();
      await this.host.stop(this.spec.id);
    })();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
