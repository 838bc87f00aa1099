import { networkSubjects, overrideSubjects } from "../../protocols/index.ts";

/**
 * The identities of a network (one NATS account per network), each an nkey user with its own
 * subject permissions. docs/networks.md has the table; `test/integration/accounts.test.ts` plays
 * the attacker against each row.
 *
 * - `node`: runs actors. Everything a node does today, minus the ledger subjects, the ledger's
 *   streams and any stream delete or purge.
 * - `ledger`: a node that may also host the audit-ledger actor: a node's rights plus publishing to
 *   the ledger subjects and creating/updating the ledger and anchor streams.
 * - `override`: a node that may also host the override actor: a node's rights plus writing the
 *   overrides KV bucket (and reconfiguring its stream), broadcasting signals, escalations, holding
 *   queries and completed human tasks, and removing completed tasks from the human work stream. Every
 *   other node may only read the bucket and publish acknowledgements and human tasks.
 * - `client`: an application without a node: sends to actors and receives its replies on `_INBOX`.
 * - `operator`: the network's administrator (key owner): everything inside the account, stream
 *   deletion included (`tether network rm`, `tether dlq`, `tether audit`).
 */
export const IDENTITY_ROLES = ["node", "ledger", "override", "client", "operator"] as const;
export type IdentityRole = (typeof IDENTITY_ROLES)[number];

export interface SubjectPermissions {
  readonly publish: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[]; readonly deny: readonly string[] };
}

/** The JetStream API subjects of one stream (`<verb>.<stream>`), for allow and deny lists. */
const streamApi = (verbs: readonly string[], stream: string): string[] => verbs.map((verb) => `$JS.API.STREAM.${verb}.${stream}`);

/** Subject permissions of `role` in `network`. Pure: the same input renders the same config. */
export const permissionsFor = (network: string, role: IdentityRole): SubjectPermissions => {
  const s = networkSubjects(network);
  const base = `tether.${s.network}`;
  if (role === "operator") return { publish: { allow: [">"], deny: [] }, subscribe: { allow: [">"], deny: [] } };
  if (role === "client") {
    return {
      publish: { allow: [s.allActors()], deny: [] },
      subscribe: { allow: ["_INBOX.>"], deny: [] },
    };
  }
  const o = overrideSubjects(network);
  const overridesStream = `KV_${o.bucket()}`;
  const buckets = [s.registryBucket(), s.keysBucket(), s.stateBucket(), s.usageBucket(), s.breakersBucket(), s.ectBucket()];
  const ledgerStreams = [s.auditStream(), s.auditAnchorStream()];
  const publishAllow = [
    s.allActors(),
    `${base}.reply.>`,
    `${base}.node.*`,
    `${base}.dlq.>`,
    s.failuresAll(),
    s.durableAll(),
    s.cascadeEdges(),
    "_INBOX.>",
    "$JS.API.>",
    "$JS.ACK.>",
    "$JS.FC.>",
    ...buckets.map((b) => `$KV.${b}.>`),
    ...(role === "ledger" ? [`${base}.audit.>`] : []),
    // every node acknowledges overrides and hands taken-over work to the human work queue
    `${o.acks("x").slice(0, -1)}>`,
    o.work(),
    ...(role === "override" ? [`$KV.${o.bucket()}.>`, o.signals(), `${o.escalations("x").slice(0, -1)}>`, o.holding(), o.done()] : []),
  ];
  // no node may delete or purge a stream (a KV bucket is a stream too), nor erase single messages; the
  // override identity erases completed human tasks, so it is denied that only on the ledger's streams
  // and the KV buckets
  const publishDeny =
    role === "override"
      ? ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", ...[...ledgerStreams, ...[...buckets, o.bucket()].map((b) => `KV_${b}`)].map((name) => `$JS.API.STREAM.MSG.DELETE.${name}`)]
      : ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>"];
  // only the override identity reconfigures the overrides bucket (creating it is idempotent: a node opens it)
  if (role !== "override") publishDeny.push(...streamApi(["UPDATE"], overridesStream));
  // only the ledger identity creates or reconfigures the ledger's streams
  if (role === "node") publishDeny.push(...ledgerStreams.flatMap((name) => streamApi(["CREATE", "UPDATE"], name)));
  return {
    publish: { allow: publishAllow, deny: publishDeny },
    subscribe: { allow: [`${base}.>`, "_INBOX.>"], deny: [] },
  };
};
