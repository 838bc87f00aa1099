import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { credentialsAuthenticator } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { startNode } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";

describe("tether network create|ls|rm", () => {
  it("adds, lists and removes networks of a running `tether cluster up`: each an account, with 0600 credentials that work until removed", async () => {
    const store = mkdtempSync(join(tmpdir(), "tether-net-cli-"));
    try {
      await using up = new TetherProcess(["cluster", "up", "--ports", "auto", "--route-ports", "auto", "--store", store]);
      const [, joined = ""] = (await up.waitFor(/cluster ready: (\S+)/, 60_000)) as [string, string];
      const urls = joined.split(",");

      const created = await runTether(["network", "create", "acme", "--store", store, "--nodes", "2"]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/servers reloaded/);
      const creds = join(store, "networks", "acme");
      for (const identity of ["node-1", "node-2", "ledger", "override", "client", "operator"]) expect(statSync(join(creds, `${identity}.creds`)).mode & 0o777).toBe(0o600);
      expect((await runTether(["network", "create", "acme", "--store", store])).stderr).toMatch(/ERR_NETWORK_EXISTS/);

      const listed = await runTether(["network", "ls", "--store", store, "--json"]);
      expect(listed.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { name: string }).name)).toEqual(["acme", "default"]);

      // a node of acme with its credentials works; `tether ask --creds` reaches it; default's credentials do not
      {
        await using node = await startNode(urls, { network: "acme", jetstreamReplicas: 3, credentials: join(creds, "node-1.creds") });
        await node.spawn("worker", Counter);
        const asked = await runTether(["ask", "worker", '{"type":"add","n":3}', "--nats", joined, "--network", "acme", "--creds", join(creds, "node-2.creds")]);
        expect(asked.stdout.trim(), asked.stderr).toBe("3");
        const wrong = await runTether(["ask", "worker", '{"type":"get"}', "--nats", joined, "--network", "acme", "--creds", join(store, "networks", "default", "node-1.creds"), "--timeout-ms", "1000"]);
        expect(wrong.code).toBe(1);
        const none = await runTether(["nodes", "ls", "--nats", joined, "--network", "acme"]);
        expect(none.code).toBe(1);
        expect(none.stderr).toMatch(/Authorization Violation/i);
        await node.close();
      }

      const operatorCreds = join(creds, "operator.creds");
      const operatorText = readFileSync(operatorCreds, "utf8");
      expect(await canConnectWith(urls[0] ?? "", operatorText)).toBe(true);
      const removed = await runTether(["network", "rm", "acme", "--store", store]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toMatch(/deleted \d+ streams and buckets; servers reloaded/);
      expect(() => statSync(operatorCreds)).toThrow();
      for (const url of urls) expect(await canConnectWith(url, operatorText)).toBe(false);
      expect((await runTether(["network", "ls", "--store", store, "--json"])).stdout.trim().split("\n")).toHaveLength(1);
      expect((await runTether(["network", "rm", "acme", "--store", store])).stderr).toMatch(/ERR_NETWORK_NOT_FOUND/);
      up.child.kill("SIGINT");
      expect(await up.exited).toBe(0);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  }, 180_000);

  it("refuses a bad --creds file with ERR_CREDENTIALS_INVALID", async () => {
    const r = await runTether(["nodes", "ls", "--nats", "nats://127.0.0.1:1", "--creds", "/nonexistent.creds"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_CREDENTIALS_INVALID/);
    expect(() => credentialsAuthenticator("not a seed\nat all")).toThrow(/neither a user nkey seed/);
  });
});

const canConnectWith = async (url: string, creds: string): Promise<boolean> =>
  connect({ servers: url, reconnect: false, authenticator: credentialsAuthenticator(creds) }).then(
    async (nc) => {
      await nc.close();
      return true;
    },
    () => false,
  );
