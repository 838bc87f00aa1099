import { assertToken, signControl, type ControlBody, type ControlEnvelope, type SigningKey } from "../../protocols/index.ts";
import { loadSigningKey } from "../assurance/key-file.ts";
import { systemClock, type Clock } from "../support/clock.ts";

export interface ControlSignerOptions {
  /** The private key, or a function giving the current one (a node's key changes when rotated). */
  readonly key: SigningKey | (() => SigningKey);
  readonly network: string;
  readonly clock?: Clock;
  /** How long each signed message is valid; default 60 s, at most 5 min (`ControlLimits`). */
  readonly lifetimeMs?: number;
}

/**
 * Signs control messages with one key of the network's key registry: a node's own key (what
 * `node.controlNode` uses by default), or a person's operator key:
 *
 *   const signer = await ControlSigner.fromKeyFile("ops.jwk.json", "default");
 *   await node.controlNode("node-2", { type: "tether.node.v1.stop", actorId: "billing" }, 5_000, { signer });
 *
 * The receiving node accepts the message only if the key's role may do it (`ControlRoles`).
 */
export class ControlSigner {
  readonly network: string;
  readonly #key: () => SigningKey;
  readonly #clock: Clock;
  readonly #lifetimeMs: number | undefined;

  constructor(options: ControlSignerOptions) {
    const key = options.key;
    this.#key = typeof key === "function" ? key : () => key;
    this.network = assertToken("network", options.network);
    this.#clock = options.clock ?? systemClock;
    this.#lifetimeMs = options.lifetimeMs;
  }

  /** A signer for the key in a private key file (mode 0600, as `tether keys create-operator` writes). */
  static async fromKeyFile(path: string, network: string, options: Omit<ControlSignerOptions, "key" | "network"> = {}): Promise<ControlSigner> {
    return new ControlSigner({ ...options, key: await loadSigningKey(path), network });
  }

  get kid(): string {
    return this.#key().kid;
  }

  /** Signs `body` for `target`: a node id (node control) or an actor id (compensation). */
  sign(body: ControlBody, target: string): Promise<ControlEnvelope> {
    return signControl(body, {
      key: this.#key(),
      network: this.network,
      target,
      now: this.#clock.now(),
      ...(this.#lifetimeMs === undefined ? {} : { lifetimeMs: this.#lifetimeMs }),
    });
  }
}
