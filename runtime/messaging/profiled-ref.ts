import type { Context } from "@opentelemetry/api";
import type { ActorRef, AskOptions, SendOptions, TellOptions } from "../actor/actor-types.ts";
import type { ExecutionScope } from "../actor/execution-scope.ts";
import type { ProfileGuard } from "../assurance/profile-guard.ts";
import type { Judged } from "../assurance/violation-evidence.ts";

type MakeRef = (id: string, from: string, trace: Context | undefined, scope: ExecutionScope) => ActorRef;

/**
 * The refs a handler gets (`ctx.ref`), checked against its actor's allowed peers before every tell,
 * ask and send: a refused message is never published (tell throws ERR_PROFILE_VIOLATION, ask and send
 * reject with it) and is recorded. Actors without a profile get the plain ref.
 */
export const profiledRefs =
  (guard: ProfileGuard, make: MakeRef): MakeRef =>
  (id, from, trace, scope) => {
    const ref = make(id, from, trace, scope);
    return guard.has(from) ? new ProfiledRef(guard, ref, from, scope) : ref;
  };

class ProfiledRef implements ActorRef {
  readonly #guard: ProfileGuard;
  readonly #ref: ActorRef;
  readonly #from: string;
  readonly #scope: ExecutionScope;

  constructor(guard: ProfileGuard, ref: ActorRef, from: string, scope: ExecutionScope) {
    this.#guard = guard;
    this.#ref = ref;
    this.#from = from;
    this.#scope = scope;
  }

  get id(): string {
    return this.#ref.id;
  }

  tell(msg: unknown, options?: TellOptions): boolean {
    this.#check(msg);
    return this.#ref.tell(msg, options);
  }

  ready(): Promise<void> {
    return this.#ref.ready();
  }

  ask(msg: unknown, options?: AskOptions): Promise<unknown> {
    try {
      this.#check(msg);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ref.ask(msg, options);
  }

  send(msg: unknown, options?: SendOptions): Promise<{ readonly id: string; readonly duplicate: boolean }> {
    try {
      this.#check(msg);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ref.send(msg, options);
  }

  #check(msg: unknown): void {
    const target = this.#ref.id;
    this.#guard.checkPeer(this.#from, target, (): Judged => {
      const parent = this.#scope.current ?? this.#scope.incoming;
      const type = typeof msg === "object" && msg !== null ? (msg as { type?: unknown }).type : undefined;
      return { actorId: this.#from, parent, wid: this.#scope.wid ?? parent?.wid, input: { to: target, type: typeof type === "string" ? type : null }, messageId: `to:${target}` };
    });
  }
}
