/**
 * The common body of the peers suite's child processes: a child either hosts the service (answers
 * `ping` asks with their sequence number and counts `ping` one-way messages) or is the caller that
 * drives the load on command. What differs between Tether and Moleculer is a `PeerSystem`.
 */
import { randomBytes } from "node:crypto";
import { MessageCounter } from "./bench-actors.ts";
import { answerCounterCommand, openChildChannel, type ChildCommand, type ChildConfig } from "./child-control.ts";
import { closedLoop, pacedSends } from "./load-loops.ts";
import { wallNowMs } from "./stats.ts";

/** The caller's two operations on the service. */
export interface PeerCaller {
  /** One request; resolves with the reply (the request's sequence number). */
  ask(seq: number): Promise<unknown>;
  /** One one-way message (a Tether tell, a Moleculer event). */
  tell(seq: number): void;
}

/** One system under test, as seen from a child process. */
export interface PeerSystem {
  /** Starts the service; each one-way message it receives is counted on `counter`. */
  serve(config: ChildConfig, counter: MessageCounter): Promise<void>;
  /** Connects the caller; resolves when the service is reachable. `payload` goes into every message. */
  connectCaller(config: ChildConfig, payload: Uint8Array<ArrayBuffer>): Promise<PeerCaller>;
  /** Closes whatever was started (idempotent). */
  close(): Promise<void>;
}

/** The caller's whole run must finish within this time (a lost reply is caught here). */
const RUN_LIMIT_MS = 180_000;

export const runPeerChild = async (system: PeerSystem): Promise<void> => {
  const counter = new MessageCounter();
  let caller: PeerCaller | undefined;

  const runCallerCommand = async (command: ChildCommand, c: PeerCaller): Promise<void> => {
    switch (command.type) {
      case "tell-run": {
        const startedAt = wallNowMs();
        await pacedSends(command.n, (seq) => c.tell(seq));
        channel.emit({ type: "tell-sent", startedAt });
        return;
      }
      case "ask-run": {
        const { elapsedMs, histogram } = await closedLoop(command.requests, command.concurrency, (seq) => c.ask(seq), "ask", RUN_LIMIT_MS);
        channel.emit({ type: "ask-done", elapsedMs, p50: histogram.getValueAtPercentile(50), p99: histogram.getValueAtPercentile(99) });
        return;
      }
      default:
        channel.emit({ type: "failed", message: `caller does not handle ${command.type}` });
    }
  };

  const channel = openChildChannel(
    (command) => {
      if (caller === undefined) {
        if (!answerCounterCommand(command, counter, channel.emit)) {
          channel.emit({ type: "failed", message: `service does not handle ${command.type}` });
        }
        return;
      }
      // a failed run is fatal: exiting rejects the parent's wait at once instead of at its time limit
      runCallerCommand(command, caller).catch(async (error: unknown) => {
        channel.emit({ type: "failed", message: String(error) });
        await channel.close(1);
      });
    },
    () => system.close(),
  );

  const { config } = channel;
  try {
    if (config.role === "caller") {
      caller = await system.connectCaller(config, new Uint8Array(randomBytes(config.payloadBytes ?? 128)));
    } else {
      await system.serve(config, counter);
    }
    channel.emit({ type: "ready", pid: process.pid });
  } catch (error) {
    channel.emit({ type: "failed", message: String(error) });
    await channel.close(1);
  }
};
