import { SupervisorStatus, TetherError, hasCode } from "../../protocols/index.ts";

/** Asks one actor, wherever it runs (the override client's raw NATS ask). */
export type AskActor = (actorId: string, body: unknown) => Promise<unknown>;

/** At most this many actors in one resolved subtree (the scope's `members` bound). */
const MAX_MEMBERS = 10_000;
/** Nested supervisors deeper than this are not followed (a cycle guard on top of the visited set). */
const MAX_DEPTH = 32;

/** The supervisor's status, or undefined when it is not a supervisor (a worker refuses the message) or not running. */
const statusOf = async (ask: AskActor, id: string): Promise<SupervisorStatus | undefined> => {
  try {
    const parsed = SupervisorStatus.safeParse(await ask(id, { type: "tether.supervisor.v1.status" }));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (hasCode(error, "ERR_MESSAGE_UNKNOWN_TYPE") || hasCode(error, "ERR_MESSAGE_INVALID") || hasCode(error, "ERR_ACTOR_NOT_FOUND") || hasCode(error, "ERR_NODE_UNREACHABLE")) return undefined;
    throw error;
  }
};

/**
 * Every actor under supervisor `root`, transitively, wherever each runs: the supervisor (through its
 * status, which lists the children it started, from its checkpointed state) names its children; each
 * child that answers as a supervisor names its own, and so on. Children are asked level by level, in
 * parallel. Returns the members without the root, in tree order; undefined when `root` is not a
 * running supervisor.
 */
export const resolveSubtree = async (ask: AskActor, root: string): Promise<string[] | undefined> => {
  const top = await statusOf(ask, root);
  if (top === undefined) return undefined;
  const members: string[] = [];
  const seen = new Set([root]);
  let level = top.children.filter((c) => !seen.has(c));
  for (let depth = 0; level.length > 0 && depth < MAX_DEPTH; depth++) {
    for (const id of level) seen.add(id);
    members.push(...level);
    if (members.length > MAX_MEMBERS) throw new TetherError("ERR_OVERRIDE_INVALID", `subtree ${root} has more than ${MAX_MEMBERS} members`);
    const statuses = await Promise.all(level.map((id) => statusOf(ask, id)));
    level = statuses.flatMap((s) => (s === undefined ? [] : s.children.filter((c) => !seen.has(c))));
  }
  return members;
};
