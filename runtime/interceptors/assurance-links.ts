import type { ActionInterceptor } from "../actor/actor-types.ts";
import type { Assurance } from "../assurance/assurance.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import { ledgerLink } from "./ledger-link.ts";
import { meterLink } from "./meter-link.ts";
import { mintLink } from "./mint-link.ts";
import { quotaLink } from "./quota-link.ts";

/**
 * The assurance part of the action chain, outermost first: ledger append (regulated profile), ECT
 * mint, meter, quota. The profile decides which links are present; actor code never changes.
 */
export const assuranceLinks = (assurance: Assurance, p: { network: string; nodeId: string; clock: Clock; logger: Logger }): ActionInterceptor[] => {
  const options = assurance.options;
  const links: ActionInterceptor[] = [];
  if (options.profile === "regulated") links.push(ledgerLink(assurance.ledger, options.ledger.mode, assurance.level, p.logger));
  links.push(
    mintLink({
      network: p.network,
      nodeId: p.nodeId,
      level: assurance.level,
      signingKey: () => assurance.signingKey,
      tokenTtlSeconds: options.tokenTtlSeconds,
      store: assurance.store,
      clock: p.clock,
      logger: p.logger,
    }),
    meterLink(p.clock),
  );
  if (assurance.quotas !== undefined) links.push(quotaLink(assurance.quotas, p.logger));
  return links;
};
