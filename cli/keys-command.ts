import type { Command } from "commander";
import { exportPrivateJwk, generateSigningKey, type EctAlgorithm } from "../protocols/index.ts";
import { KeyRegistry, saveSigningKey, silentLogger, systemClock } from "../runtime/index.ts";
import { networkSubjects } from "../protocols/index.ts";
import { printTable, withConnection } from "./connection.ts";

interface KeysFlags {
  nats?: string;
  network: string;
}

const openRegistry = (nc: Parameters<typeof KeyRegistry.open>[0], network: string) =>
  KeyRegistry.open(nc, networkSubjects(network), { replicas: 1, clock: systemClock, logger: silentLogger });

/** `tether keys …`: the network's key registry (JWKS). */
export const registerKeysCommand = (program: Command): void => {
  const keys = program.command("keys").description("the network's signing keys (JWKS in JetStream KV)");
  const common = (c: Command) =>
    c.option("--nats <urls>", "comma-separated NATS server URLs", "nats://127.0.0.1:4222").option("--network <name>", "network name", "default");

  common(keys.command("ls").description("list keys: kid, role, owner, status")).action((flags: KeysFlags) =>
    withConnection(flags.nats, async (nc) => {
      await using registry = await openRegistry(nc, flags.network);
      const rows = registry.list().map((k) => [k.kid, k.alg, k.role, k.owner, k.status, new Date(k.createdAt).toISOString()]);
      if (rows.length === 0) process.stdout.write(`no keys in network ${flags.network}\n`);
      else printTable(["KID", "ALG", "ROLE", "OWNER", "STATUS", "CREATED"], rows);
    }),
  );

  common(keys.command("jwks").description("print the JWKS of every key that currently verifies (for `tether ect verify --jwks`)")).action((flags: KeysFlags) =>
    withConnection(flags.nats, async (nc) => {
      await using registry = await openRegistry(nc, flags.network);
      process.stdout.write(`${JSON.stringify(registry.jwks(), null, 2)}\n`);
    }),
  );

  common(keys.command("revoke").argument("<kid>").requiredOption("--reason <text>", "why (recorded)").description("revoke a key on every node at once")).action(
    (kid: string, flags: KeysFlags & { reason: string }) =>
      withConnection(flags.nats, async (nc) => {
        await using registry = await openRegistry(nc, flags.network);
        const record = await registry.revoke(kid, flags.reason);
        process.stdout.write(`revoked ${record.kid} (${record.role} key of ${record.owner})\n`);
      }),
  );

  common(
    keys
      .command("create-operator")
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
