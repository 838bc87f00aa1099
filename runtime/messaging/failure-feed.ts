import type { Subscription } from "@nats-io/transport-node";
import { FailureNotice, decodeBody } from "../../protocols/index.ts";
import type { NodeCore } from "../node-core.ts";

/**
 * The port through which supervisors hear about their children's handler failures, wherever the
 * children run: every node publishes a `FailureNotice` on `failures.<actorId>` when a handler throws
 * (local children included). Subscribes to the given ids only; returns a function that stops listening.
 * Notices are at-most-once (core NATS): a supervisor that is itself failing over also re-checks where its
 * children are once it is back (`SupervisorActor`), and a child whose node died counts as failed.
 */
export const watchFailures = (core: Pick<NodeCore, "nc" | "subjects">, actorIds: readonly string[], listener: (notice: FailureNotice) => void): (() => void) => {
  const subs: Subscription[] = actorIds.map((id) =>
    core.nc.subscribe(core.subjects.failures(id), {
      callback: (_err, msg) => {
        const parsed = FailureNotice.safeParse(safeDecode(msg.data));
        if (parsed.success) listener(parsed.data); // anything else on the subject is ignored: it cannot trigger a restart
      },
    }),
  );
  return () => {
    for (const sub of subs) sub.unsubscribe();
  };
};

const safeDecode = (data: Uint8Array): unknown => {
  try {
    return decodeBody(data);
  } catch {
    return undefined;
  }
};
