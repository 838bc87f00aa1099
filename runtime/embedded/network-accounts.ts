import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { z } from "zod";
import { TetherError, assertToken } from "../../protocols/index.ts";
import { permissionsFor, type IdentityRole } from "./account-permissions.ts";
import { formatCredentials } from "./credentials.ts";

/** The account `tether cluster up` uses for its own health checks (a network name cannot start with `_`). */
export const CLUSTER_ACCOUNT = "_tether";

const Identity = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  role: z.enum(["node", "ledger", "override", "client", "operator"]),
  publicKey: z.string().regex(/^U[A-Z2-7]{55}$/),
});
const NetworkRecord = z.strictObject({
  /** Budget per server holding a replica, MiB; the account's JetStream file limit is this × replicas. */
  storageMb: z.number().int().min(1),
  replicas: z.number().int().min(1).max(5),
  createdAt: z.string(),
  identities: z.array(Identity).min(1),
});
const State = z.strictObject({
  version: z.literal(1),
  clusterUser: z.string().regex(/^U[A-Z2-7]{55}$/),
  networks: z.record(z.string(), NetworkRecord),
});
type State = z.infer<typeof State>;
export type NetworkRecord = z.infer<typeof NetworkRecord>;

export interface NetworkInfo extends NetworkRecord {
  readonly name: string;
  /** Credentials file of each identity, by identity name. */
  readonly credentials: Readonly<Record<string, string>>;
}

export interface CreateNetworkOptions {
  /** Node identities to make (`node-1` … `node-<n>`), default 3. */
  readonly nodes?: number;
  /** Storage budget per server holding a replica, MiB (default 192: the node's 160 MiB of streams and buckets plus the ledger). */
  readonly storageMb?: number;
  /** Replicas the network's streams use (default 3, the stock cluster). */
  readonly replicas?: number;
}

const MIB = 1024 * 1024;
export const DEFAULT_NETWORK_STORAGE_MB = 192;

/**
 * The networks of one cluster as config-file NATS accounts, kept in the cluster's directory:
 * `networks.json` (names, limits, public keys: no secrets), `accounts.conf` (rendered from it,
 * included by every server's config), and one credentials file (mode 0600) per identity under
 * `networks/<name>/`. Servers pick changes up on reload (`NatsCluster.reload`, SIGHUP).
 */
export class NetworkAccounts {
  readonly dir: string;
  #state: State;

  private constructor(dir: string, state: State) {
    this.dir = dir;
    this.#state = state;
  }

  /** True when `dir` holds network state (`networks.json`). */
  static exists(dir: string): boolean {
    return existsSync(join(dir, "networks.json"));
  }

  /** Opens (or starts) the account state in `dir`; always leaves a current `accounts.conf` there. */
  static open(dir: string): NetworkAccounts {
    mkdirSync(dir, { recursive: true });
    const stateFile = join(dir, "networks.json");
    let state: State;
    if (existsSync(stateFile)) {
      const parsed = State.safeParse(JSON.parse(readFileSync(stateFile, "utf8")));
      if (!parsed.success) throw new TetherError("ERR_CONFIG_INVALID", `${stateFile} is not a valid network state file: ${parsed.error.message}`);
      state = parsed.data;
    } else {
      const user = createUser();
      state = { version: 1, clusterUser: user.getPublicKey(), networks: {} };
      writeSecret(join(dir, "cluster.creds"), formatCredentials(decode(user.getSeed()), user.getPublicKey(), "cluster health check"));
    }
    const accounts = new NetworkAccounts(dir, state);
    accounts.#save();
    return accounts;
  }

  /** `accounts.conf`, the file every server's config includes. */
  get configFile(): string {
    return join(this.dir, "accounts.conf");
  }

  /** Credentials of the cluster's own account (health checks; no access to any network). */
  get clusterCredentials(): string {
    return join(this.dir, "cluster.creds");
  }

  has(name: string): boolean {
    return Object.hasOwn(this.#state.networks, name);
  }

  list(): NetworkInfo[] {
    return Object.entries(this.#state.networks)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, record]) => this.#info(name, record));
  }

  get(name: string): NetworkInfo {
    const record = this.#state.networks[name];
    if (record === undefined || !this.has(name)) throw new TetherError("ERR_NETWORK_NOT_FOUND", `no network ${JSON.stringify(name)} in ${this.dir}`);
    return this.#info(name, record);
  }

  /** The credentials file of one identity of a network (e.g. `node-1`, `ledger`, `client`, `operator`). */
  credentials(name: string, identity: string): string {
    const path = this.get(name).credentials[identity];
    if (path === undefined) throw new TetherError("ERR_NETWORK_NOT_FOUND", `network ${name} has no identity ${identity}`);
    return path;
  }

  /** Adds a network: an account with JetStream limits, its identities and their credentials files. */
  create(name: string, options: CreateNetworkOptions = {}): NetworkInfo {
    assertToken("network", name);
    if (this.has(name)) throw new TetherError("ERR_NETWORK_EXISTS", `network ${name} already exists in ${this.dir}`);
    const nodes = options.nodes ?? 3;
    if (!Number.isInteger(nodes) || nodes < 0 || nodes > 100) throw new TetherError("ERR_CONFIG_INVALID", `nodes must be 0-100, got ${nodes}`);
    const roles: Array<[string, IdentityRole]> = [
      ...Array.from({ length: nodes }, (_, i): [string, IdentityRole] => [`node-${i + 1}`, "node"]),
      ["ledger", "ledger"],
      ["override", "override"],
      ["client", "client"],
      ["operator", "operator"],
    ];
    const folder = this.#folder(name);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const identities = roles.map(([identity, role]) => {
      const user = createUser();
      writeSecret(join(folder, `${identity}.creds`), formatCredentials(decode(user.getSeed()), user.getPublicKey(), `${identity} (${role}) of network ${name}`));
      return { name: identity, role, publicKey: user.getPublicKey() };
    });
    const record: NetworkRecord = {
      storageMb: options.storageMb ?? DEFAULT_NETWORK_STORAGE_MB,
      replicas: options.replicas ?? 3,
      createdAt: new Date().toISOString(),
      identities,
    };
    NetworkRecord.parse(record);
    this.#state = { ...this.#state, networks: { ...this.#state.networks, [name]: record } };
    this.#save();
    return this.#info(name, record);
  }

  /** Removes a network's account and credentials (delete its streams first, while its operator can still connect). */
  remove(name: string): void {
    this.get(name);
    const { [name]: _removed, ...rest } = this.#state.networks;
    this.#state = { ...this.#state, networks: rest };
    this.#save();
    rmSync(this.#folder(name), { recursive: true, force: true });
  }

  /** The `accounts` block of the server config (NATS config accepts JSON; quoted strings are never `$`-substituted). */
  render(): string {
    const accounts: Record<string, unknown> = {
      [CLUSTER_ACCOUNT]: { jetstream: { max_file: MIB, max_mem: MIB }, users: [{ nkey: this.#state.clusterUser }] },
    };
    for (const [name, record] of Object.entries(this.#state.networks)) {
      accounts[name] = {
        jetstream: { max_file: record.storageMb * record.replicas * MIB, max_mem: 16 * MIB },
        users: record.identities.map((identity) => ({ nkey: identity.publicKey, permissions: permissionsFor(name, identity.role) })),
      };
    }
    return `# Generated by \`tether network create|rm\` from networks.json: edits here are overwritten.\naccounts: ${JSON.stringify(accounts, null, 2)}\n`;
  }

  #folder(name: string): string {
    return join(this.dir, "networks", assertToken("network", name));
  }

  #info(name: string, record: NetworkRecord): NetworkInfo {
    const credentials: Record<string, string> = {};
    for (const identity of record.identities) credentials[identity.name] = join(this.#folder(name), `${identity.name}.creds`);
    return { name, ...record, credentials };
  }

  #save(): void {
    writeAtomic(join(this.dir, "networks.json"), `${JSON.stringify(this.#state, null, 2)}\n`);
    writeAtomic(this.configFile, this.render());
  }
}

const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const writeAtomic = (path: string, text: string, mode = 0o644): void => {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
};

/** A secret file: created with mode 0600 (never readable by others, even for a moment). */
const writeSecret = (path: string, text: string): void => writeAtomic(path, text, 0o600);
