import type { Command } from "commander";
import { TetherError, errorFromWire } from "../protocols/index.ts";
import type { NodeEvent } from "../runtime/index.ts";
import { withClientNode } from "./client-node.ts";
import { readArgOrStdin } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples } from "./output.ts";
import { parsePositiveInt } from "./servers.ts";
import type { TlsFlags } from "./tls-options.ts";

interface MessageFlags extends TlsFlags {
  nats: string;
  creds?: string;
  network: string;
  priority?: boolean;
}

/** Parses the `<json>` argument (or stdin with `-`): any JSON value, usually `{ "type": … }`. */
const parseMessage = async (arg: string): Promise<unknown> => {
  const text = await readArgOrStdin(arg);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `<json>: not valid JSON (${(cause as Error).message}); e.g. '{"type":"ping"}'`, { cause });
  }
};

const common = (c: Command): Command =>
  c
    .addOption(natsOption())
    .option("--network <name>", "network (tenant) name", "default")
    .option("--priority", "deliver on the actor's priority lane");

/** `tether ask` and `tether tell`: send one message to an actor by id, as an application would. */
export const registerMessageCommands = (program: Command): void => {
  common(
    examples(
      program
        .command("ask")
        .argument("<actor>", "actor id")
        .argument("<json>", "the message as JSON, or - to read it from stdin")
        .description("send a message to an actor and print its reply as JSON (exit 1 with the error code if it fails)"),
      `tether ask cli-counter '{"type":"inc","by":2}'`,
      `echo '{"type":"get"}' | tether ask cli-counter - --timeout-ms 2000 | jq .`,
    ),
  )
    .option("--timeout-ms <ms>", "how long to wait for the reply (default: the node's askTimeoutMs, 5000)", parsePositiveInt("--timeout-ms"))
    .action(async (actor: string, json: string, flags: MessageFlags & { timeoutMs?: number }) => {
      const message = await parseMessage(json);
      await withClientNode(flags, async (node) => {
        const reply = await node.ref(actor).ask(message, {
          ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
          ...(flags.priority === true ? { priority: true } : {}),
        });
        process.stdout.write(`${JSON.stringify(reply ?? null)}\n`);
      });
    });

  common(
    examples(
      program
        .command("tell")
        .argument("<actor>", "actor id")
        .argument("<json>", "the message as JSON, or - to read it from stdin")
        .description("send a one-way message to an actor (at most once); exit 1 if it is refused within --wait-ms"),
      `tether tell cli-counter '{"type":"inc","by":1}'`,
    ),
  )
    .option("--wait-ms <ms>", "how long to listen for a refusal (no such actor, mailbox full, invalid message) before reporting it sent", parsePositiveInt("--wait-ms"), 500)
    .action(async (actor: string, json: string, flags: MessageFlags & { waitMs: number }) => {
      const message = await parseMessage(json);
      await withClientNode(flags, async (node) => {
        // a tell has no reply: a refusal is an `undeliverable` event; silence within the window means sent
        const refused = new Promise<Extract<NodeEvent, { type: "undeliverable" }> | undefined>((resolve) => {
          const timer = setTimeout(() => {
            stop();
            resolve(undefined);
          }, flags.waitMs);
          const stop = node.onEvent((e) => {
            if (e.type !== "undeliverable" || e.target !== actor) return;
            clearTimeout(timer);
            stop();
            resolve(e);
          });
        });
        node.ref(actor).tell(message, flags.priority === true ? { priority: true } : {});
        const refusal = await refused;
        if (refusal !== undefined) throw errorFromWire({ code: refusal.code, message: refusal.message, details: { actorId: actor, messageId: refusal.messageId } });
        process.stdout.write(`sent to ${actor}\n`);
      });
    });
};
