import { EdgeReport, decodeBody, encodeBody } from "../../protocols/index.ts";
import type { NodeCore } from "../node-core.ts";

/**
 * Edge statistics for cascade detection on `tether.<net>.cascade.edges`: every participating node
 * publishes its caller → target counts each interval; the cascade monitor listens. A malformed report
 * is ignored (it cannot trigger containment); publishing never throws.
 */
export const publishEdges = (core: Pick<NodeCore, "nc" | "subjects">, report: EdgeReport): void => {
  try {
    core.nc.publish(core.subjects.cascadeEdges(), encodeBody(report));
  } catch {
    /* the connection is closing */
  }
};

export const watchEdges = (core: Pick<NodeCore, "nc" | "subjects">, listener: (report: EdgeReport) => void): (() => void) => {
  const sub = core.nc.subscribe(core.subjects.cascadeEdges(), {
    callback: (_err, msg) => {
      try {
        const report = EdgeReport.safeParse(decodeBody(msg.data));
        if (report.success) listener(report.data);
      } catch {
        /* not a report */
      }
    },
  });
  return () => sub.unsubscribe();
};
