import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NetworkAccounts, credentialsAuthenticator, permissionsFor } from "../../runtime/index.ts";

const dirs: string[] = [];
const fresh = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "tether-accounts-unit-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("NetworkAccounts", () => {
  it("creates a network's identities with 0600 credentials files and renders every public key into accounts.conf", () => {
    const dir = fresh();
    const accounts = NetworkAccounts.open(dir);
    const info = accounts.create("acme", { nodes: 2 });
    expect(Object.keys(info.credentials)).toEqual(["node-1", "node-2", "ledger", "override", "client", "operator"]);
    for (const path of [...Object.values(info.credentials), accounts.clusterCredentials]) {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(() => credentialsAuthenticator(path)).not.toThrow();
    }
    const conf = readFileSync(accounts.configFile, "utf8");
    for (const identity of info.identities) expect(conf).toContain(identity.publicKey);
    expect(conf).not.toMatch(/SU[A-Z2-7]{56}/); // no seed ever reaches the server config
    expect(conf).toContain(`"max_file": ${192 * 3 * 1024 * 1024}`);
    // state survives a reopen
    expect(NetworkAccounts.open(dir).list().map((n) => n.name)).toEqual(["acme"]);
  });

  it("refuses a duplicate, an invalid name and an unknown network with their codes; rm removes the credentials", () => {
    const accounts = NetworkAccounts.open(fresh());
    const info = accounts.create("acme");
    expect(() => accounts.create("acme")).toThrow(expect.objectContaining({ code: "ERR_NETWORK_EXISTS" }));
    expect(() => accounts.create("a.b")).toThrow(expect.objectContaining({ code: "ERR_ADDRESS_INVALID" }));
    expect(() => accounts.remove("nope")).toThrow(expect.objectContaining({ code: "ERR_NETWORK_NOT_FOUND" }));
    accounts.remove("acme");
    expect(() => statSync(info.credentials["operator"] ?? "")).toThrow();
    expect(readFileSync(accounts.configFile, "utf8")).not.toContain(info.identities[0]?.publicKey ?? "?");
  });
});

describe("credentialsAuthenticator", () => {
  it("says what is wrong with a missing or malformed credentials file", () => {
    expect(() => credentialsAuthenticator("/nonexistent/x.creds")).toThrow(expect.objectContaining({ code: "ERR_CREDENTIALS_INVALID" }));
    expect(() => credentialsAuthenticator("no seed here\n")).toThrow(/neither a user nkey seed/);
  });
});

describe("permissionsFor", () => {
  it("lets only the ledger identity publish the ledger subjects, and no node or client delete or purge a stream", () => {
    const node = permissionsFor("acme", "node");
    const ledger = permissionsFor("acme", "ledger");
    const client = permissionsFor("acme", "client");
    expect(node.publish.allow).not.toContain("tether.acme.audit.>");
    expect(ledger.publish.allow).toContain("tether.acme.audit.>");
    expect(node.publish.deny).toEqual(expect.arrayContaining(["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.CREATE.TETHER_acme_AUDIT"]));
    expect(ledger.publish.deny).toContain("$JS.API.STREAM.DELETE.>");
    expect(client).toEqual({ publish: { allow: ["tether.acme.actor.*"], deny: [] }, subscribe: { allow: ["_INBOX.>"], deny: [] } });
    // nothing of another network
    expect([...node.publish.allow, ...node.subscribe.allow].filter((s) => s.startsWith("tether.") && !s.startsWith("tether.acme."))).toEqual([]);
  });
});
