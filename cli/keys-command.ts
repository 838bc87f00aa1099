import type { Command } from "commander";
import { exportPrivateJwk, generateSigningKey, type EctAlgorithm } from "../protocols/index.ts";
import { KeyRegistry, saveSigningKey, silentLogger, systemClock } from "../runtime/index.ts";
import { networkSubjects } from "../protocols/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

interface KeysFlags {
  nats: string;
  network: string;
}

const openRegistry = (nc: Parameters<typeof KeyRegistry.open>[0], network: string) =>
  KeyRegistry.open(nc, networkSubjects(network), { replicas: 1, clock: systemClock, logger: silentLogger });

/** `tether keys …`: the network's key registry (JWKS). */
export const registerKeysCommand = (program: Command): void => {
  const keys = examples(program.command("keys").description("the network's signing keys (JWKS in JetStream KV)"), "tether keys ls");
  const common = (c: Command) => c.addOption(natsOption()).option("--network <name>", "network name", "default");

  jsonFlag(common(examples(keys.command("ls").description("list keys: kid, role, owner, status"), "tether keys ls --network default", "tether keys ls --json | jq -r 'select(.status == \"active\") | .kid'"))).action(
    (flags: KeysFlags & { json?: boolean }) =>
      withConnection(flags.nats, async (nc) => {
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
    withConnection(flags.nats, async (nc) => {
      await using registry = await openRegistry(nc, flags.network);
      process.stdout.write(`${JSON.stringify(registry.jwks(), null, 2)}\n`);
    }),
  );

  common(examples(keys.command("revoke"), 'tether keys revoke 3f2a9c... --reason "laptop lost"').argument("<kid>").requiredOption("--reason <text>", "why (recorded)").description("revoke a key on every node at once")).action(
    (kid: string, flags: KeysFlags & { reason: string }) =>
      withConnection(flags.nats, async (nc) => {
        await using registry = await openRegistry(nc, flags.network);
        const record = await registry.revoke(kid, flags.reason);
        process.stdout.write(`revoked ${record.kid} (${record.role} key of ${record.owner})\n`);
      }),
  );

  common(
    examples(keys.command("create-operator"), "tether keys create-operator alice --out ~/.tether/alice.jwk")
      .argument("<name>", "operator name (a person or team)")
      .requiredOption("--out <file>", "where to write the private key (mode 0600)")
      .option("--alg <alg>", "ES256 or EdDSA", "ES256")
      .description("create an operator key (for human approvals and overrides), separate from node keys"),
  ).action((name: string, flags: KeysFlags & { out: string; alg: string }) =>
    withConnection(flags.nats, async (nc) => {
      const key = await generateSigningKey(flags.alg as EctAlgorithm);
      saveSigningKey(flags.out, await exportPrivateJwk(key));
      await using registry = await openRegistry(nc, flags.network);
      await registry.publish(key, "operator", name);
      process.stdout.write(`operator key ${key.kid} for ${name} published; private key in ${flags.out}\n`);
    }),
  );
};
