import type { ActionInterceptor } from "../actor/actor-types.ts";
import type { Usage } from "../actor/execution-scope.ts";
import type { Clock } from "../support/clock.ts";

/**
 * Meters an action: wall time, CPU (`process.cpuUsage`, shared by concurrent handlers in one process),
 * and the messages, bytes and units that accrue to it while it runs. The result goes to the action's
 * record, where the mint link puts it into the ECT.
 */
export const meterLink =
  (clock: Clock): ActionInterceptor =>
  async (call, next) => {
    const scope = call.scope;
    const usage: Usage = { messages: 0, bytes: 0, units: {} };
    const outer = scope.meter;
    scope.meter = usage;
    const startedAt = clock.now();
    const cpu0 = process.cpuUsage();
    try {
      return await next();
    } finally {
      scope.meter = outer;
      const cpu = process.cpuUsage(cpu0);
      call.record.usage = {
        wallMs: clock.now() - startedAt,
        cpuUs: cpu.user + cpu.system,
        messages: usage.messages,
        bytes: usage.bytes,
        ...(Object.keys(usage.units).length === 0 ? {} : { units: usage.units }),
      };
    }
  };
