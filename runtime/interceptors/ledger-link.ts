import type { AssuranceLevel } from "../../protocols/index.ts";
import type { ActionInterceptor } from "../actor/actor-types.ts";
import type { LedgerClient } from "../assurance/ledger-client.ts";
import type { Logger } from "../support/logger.ts";

/**
 * The regulated profile's ledger append, outside the mint link: the action's ECT is appended to the
 * audit ledger before the action returns (`sync`: its receipt rides on every message sent afterwards;
 * an unavailable ledger fails the action so dependent work does not proceed), or in the background
 * (`async`: tokens then say L2).
 */
export const ledgerLink =
  (ledger: LedgerClient, mode: "sync" | "async", level: AssuranceLevel, logger: Logger): ActionInterceptor =>
  async (call, next) => {
    const before = call.scope.current;
    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      result = await next();
    } catch (error) {
      failure = error;
      failed = true;
    }
    const minted = call.record.minted;
    if (minted !== undefined) {
      const entry = { kind: "ect" as const, token: minted.token, level };
      if (mode === "sync") {
        try {
          const r = await ledger.append(entry);
          // the signed receipt rides on the token's messages; receivers verify it (no receipt: they see L2)
          call.scope.current = { ...minted, receipt: r.receipt };
        } catch (error) {
          call.scope.current = before; // an action the ledger did not take is no parent for dependent work
          throw error;
        }
      } else {
        void ledger.append(entry).catch((error: unknown) => logger.warn("async ledger append failed", { jti: minted.jti, error }));
      }
    }
    if (failed) throw failure;
    return result;
  };
