import type { Command } from "commander";
import { KeyRole, TetherError, exportPrivateJwk, generateSigningKey, hasCode, networkSubjects, type EctAlgorithm } from "../protocols/index.ts";
import { ControlSigner, KeyRegistry, findLiveNode, saveSigningKey, sendControl, silentLogger, systemClock } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

interface KeysFlags {
  nats: string;
  network: string;
}

interface SignedFlags extends KeysFlags {
  signer?: string;
  node?: string;
}

/** People's roles `create-operator --role` accepts (machine keys are made by nodes and ledgers). */
const PERSON_ROLES = ["owner", "admin", "operator", "approver", "observer"] as const;

const openRegistry = (nc: Parameters<typeof KeyRegistry.open>[0], network: string) =>
  KeyRegistry.open(nc, networkSubjects(network), { replicas: 1, clock: systemClock, logger: silentLogger });

/** `tether keys …`: the network's key registry (JWKS). */
export const registerKeysCommand = (program: Command): void => {
  const keys = examples(program.command("keys").description("the network's signing keys (JWKS in JetStream KV)"), "tether keys ls");
  const common = (c: Command) => c.addOption(natsOption()).option("--network <name>", "network name", "default");

  jsonFlag(common(examples(keys.command("ls").description("list keys: kid, role, owner, status"), "tether keys ls --network default", "tether keys ls --json | jq -r 'select(.status == \"active\") | .kid'"))).action(
    (flags: KeysFlags & { json?: boolean }) =>
      withConnection(flags, async (nc) => {
        await using registry = await openRegistry(nc, flags.network);
        const rows = registry.list().map((k) => ({ kid: k.kid, alg: k.alg, role: k.role, owner: k.owner, status: k.status, createdAt: new Date(k.createdAt).toISOString() }));
        printRows(flags.json, rows, {
          head: ["KID", "ALG", "ROLE", "OWNER", "STATUS", "CREATED"],
          cells: (k) => [k.kid, k.alg, k.role, k.owner, k.status, k.createdAt],
          empty: `no keys in network ${flags.network}`,
        });
      }),
  );

  common(examples(keys.command("jwks").description("print the JWKS of every key that currently verifies (for `tether ect verify --jwks`)"), "tether keys jwks > jwks.json")).action((flags: KeysFlags) =>
    withConnection(flags, async (nc) => {
      await using registry = await openRegistry(nc, flags.network);
      process.stdout.write(`${JSON.stringify(registry.jwks(), null, 2)}\n`);
    }),
  );

  common(
    examples(keys.command("revoke"), 'tether keys revoke 3f2a9c... --reason "laptop lost" --signer ~/.tether/owner.jwk')
      .argument("<kid>")
      .requiredOption("--reason <text>", "why (recorded)")
      .requiredOption("--signer <file>", "private key file of an owner or admin (who revokes: recorded in the ledger)")
      .option("--node <id>", "node that applies and records it (default: any live node)")
      .description("revoke a key on every node at once (signed control: checked and recorded by a node)"),
  ).action((kid: string, flags: SignedFlags & { reason: string }) =>
    withConnection(flags, async (nc) => {
      const signer = await ControlSigner.fromKeyFile(flags.signer ?? "", flags.network);
      const nodeId = flags.node ?? (await findLiveNode(nc, flags.network));
      const answer = (await sendControl(nc, signer, nodeId, { type: "tether.node.v1.key-revoke", kid, reason: flags.reason }, 10_000)) as { role?: string; owner?: string };
      process.stdout.write(`revoked ${kid} (${answer.role ?? "?"} key of ${answer.owner ?? "?"}); recorded by node ${nodeId}\n`);
    }),
  );

  common(
    examples(keys.command("create-operator"), "tether keys create-operator alice --role operator --signer ~/.tether/owner.jwk --out ~/.tether/alice.jwk")
      .argument("<name>", "the person (or team) the key belongs to")
      .requiredOption("--out <file>", "where to write the private key (mode 0600)")
      .option("--role <role>", `one of ${PERSON_ROLES.join(", ")} (see the role matrix in the README)`, "operator")
      .option("--signer <file>", "private key file of an owner or admin who publishes it (not needed for the network's first owner key)")
      .option("--node <id>", "node that applies and records it (default: any live node)")
      .option("--alg <alg>", "ES256 or EdDSA", "ES256")
      .description("create a person's key with a role (operators, approvers, …), separate from node keys; published through a signed, recorded key-publish"),
  ).action((name: string, flags: SignedFlags & { out: string; alg: string; role: string }) =>
    withConnection(flags, async (nc) => {
      const role = KeyRole.safeParse(flags.role);
      if (!role.success || !(PERSON_ROLES as readonly string[]).includes(role.data)) {
        throw new TetherError("ERR_CONFIG_INVALID", `--role must be one of ${PERSON_ROLES.join(", ")}`);
      }
      if (flags.signer === undefined && role.data !== "owner") {
        throw new TetherError("ERR_CONFIG_INVALID", "--signer <owner or admin key file> is required (only the network's first owner key publishes itself)");
      }
      const key = await generateSigningKey(flags.alg as EctAlgorithm);
      saveSigningKey(flags.out, await exportPrivateJwk(key));
      // the first owner key signs its own publication (proof of possession); every other key is vouched for by an owner or admin
      const signer = flags.signer === undefined ? await ControlSigner.fromKeyFile(flags.out, flags.network) : await ControlSigner.fromKeyFile(flags.signer, flags.network);
      const nodeId = flags.node ?? (await findLiveNode(nc, flags.network));
      const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role: role.data, owner: name, jwk: { ...key.publicJwk } } as const;
      try {
        await sendControl(nc, signer, nodeId, request, 10_000);
      } catch (error) {
        if (flags.signer === undefined && hasCode(error, "ERR_CONTROL_KEY_UNKNOWN")) {
          throw new TetherError("ERR_CONTROL_FORBIDDEN", `network ${flags.network} already has an owner: pass --signer <owner key file> (the key in ${flags.out} was not published)`, { cause: error });
        }
        throw error;
      }
      process.stdout.write(`${role.data} key ${key.kid} for ${name} published (recorded by node ${nodeId}); private key in ${flags.out}\n`);
    }),
  );
};
