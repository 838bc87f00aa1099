import { context as otelContext, trace } from "@opentelemetry/api";
import type { ActionInterceptor } from "../actor/actor-types.ts";
import { endSpan, type Tracing } from "../telemetry/tracing.ts";

/**
 * A span around each `ctx.act`, outermost in the action chain so it covers the ledger append, the
 * ECT mint, metering and quotas. Its parent is the active context (the handler runs inside its
 * `process` span); messages the action sends are its children. The workflow id and the ECT's jti
 * are known only once the mint link has run, so they are set on the way out.
 */
export const traceLink =
  (tracing: Tracing): ActionInterceptor =>
  async (call, next) => {
    const parent = otelContext.active();
    const span = tracing.startAct(call.actorId, call.name, call.scope.wid, undefined, parent);
    if (span === undefined) return next();
    span.setAttribute("messaging.message.id", call.messageId);
    try {
      const result = await otelContext.with(trace.setSpan(parent, span), next);
      const minted = call.record.minted;
      if (minted !== undefined) {
        span.setAttribute("tether.ect.jti", minted.jti);
        if (minted.wid !== undefined) span.setAttribute("tether.workflow.id", minted.wid);
      }
      endSpan(span);
      return result;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  };
