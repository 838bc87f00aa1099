import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasCode, type TetherError } from "../../protocols/index.ts";
import { NatsCluster, NatsServer, NetworkAccounts, classifyTlsFailure, createDevCertificates, issueCertificate, natsConnectError, natsTlsConnectOptions, type DevCertificates } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";

/** Rejects with the TetherError `fn` rejects with (fails the test when it resolves). */
const rejection = async (fn: () => Promise<unknown>): Promise<TetherError> => {
  try {
    await fn();
  } catch (error) {
    return error as TetherError;
  }
  throw new Error("expected a rejection");
};

/** Connects as Tether's CLI does (cli/connection.ts): Tether's TLS options, the failure mapped to a coded error. */
const tryConnect = async (url: string, tls?: { caFile?: string; certFile?: string; keyFile?: string }): Promise<void> => {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 5_000, ...natsTlsConnectOptions(tls, [url]) });
    await nc.flush();
    await nc.close();
  } catch (cause) {
    throw natsConnectError(cause, [url], natsTlsConnectOptions(tls, [url]).tls);
  }
};

/**
 * What a server sends on a raw TCP socket until it closes it (an attacker's view): `send` goes out
 * after the server's first line, or at once with `sendFirst`.
 */
const rawExchange = (port: number, send: string, sendFirst = false): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let buffer = "";
    let sent = sendFirst;
    if (sendFirst) socket.write(send);
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      if (!sent && buffer.includes("\r\n")) {
        sent = true;
        socket.write(send);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(buffer));
    setTimeout(() => socket.destroy(), 5_000).unref();
  });

/** A single nats-server whose client port uses the given certificate (JetStream in `dir/<name>-js`). */
const startTlsServer = async (dir: string, name: string, caFile: string, cert: { certFile: string; keyFile: string }, verify = false): Promise<NatsServer> => {
  const conf = join(dir, `${name}.conf`);
  const tls = `tls {\n  cert_file: ${JSON.stringify(cert.certFile)}\n  key_file: ${JSON.stringify(cert.keyFile)}\n  ca_file: ${JSON.stringify(caFile)}\n  verify: ${verify}\n}\n`;
  writeFileSync(conf, `host: 127.0.0.1\nport: -1\njetstream { store_dir: ${JSON.stringify(join(dir, `${name}-js`))} }\n${tls}`);
  return NatsServer.start({ configFile: conf, name, tls: true });
};

describe("TLS", () => {
  let dir = "";
  let certs: DevCertificates;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tether-tls-"));
    certs = await createDevCertificates({ dir: join(dir, "ca") });
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("runs a 3-node cluster on your own certificates with verified TLS routes: a node spawns, another asks over TLS, JetStream replicates across the routes", async () => {
    // brings its own certificates (the CLI test below covers the development CA of `cluster up --tls`)
    await using cluster = await NatsCluster.start({ tls: certs }); // ready = JetStream meta leader elected over the TLS routes
    expect(cluster.tls).toBe(true);
    expect(cluster.urls.every((u) => u.startsWith("tls://127.0.0.1:"))).toBe(true);
    const tls = cluster.clientTls;
    expect(tls).toEqual({ caFile: certs.caFile });
    const [u1, , u3] = cluster.urls as [string, string, string];
    await using a = await startNode(u1, { jetstreamReplicas: 3, tls: tls ?? {} });
    await using b = await startNode(u3, { jetstreamReplicas: 3, tls: tls ?? {} });
    await a.spawn("tls-counter", Counter);
    await eventually(async () => (await b.ref<typeof Counter>("tls-counter").ask({ type: "get" }).catch(() => -1)) === 0, 15_000, "ask across the TLS route");
    expect(await b.ref<typeof Counter>("tls-counter").ask({ type: "add", n: 5 })).toBe(5);

    // the route port demands TLS too: a plaintext peer posing as a route gets nothing and is dropped
    const routeReply = await rawExchange(await routePortOf(cluster), 'CONNECT {"verbose":false,"pedantic":false,"name":"forged"}\r\nPING\r\n', true);
    expect(routeReply).not.toMatch(/PONG|\+OK|INFO/);
    await eventually(() => /handshake error/i.test(cluster.servers[0]?.log ?? ""), 10_000, "the route's handshake error");
  });

  it("keeps a server whose route certificate comes from another CA out of the cluster", async () => {
    const foreign = await createDevCertificates({ dir: join(dir, "foreign") });
    await using cluster = await NatsCluster.start({ tls: true });
    const routePort = await routePortOf(cluster);
    const conf = join(dir, "rogue.conf");
    const tls = (c: { certFile: string; keyFile: string }) =>
      `tls {\n  cert_file: ${JSON.stringify(c.certFile)}\n  key_file: ${JSON.stringify(c.keyFile)}\n  ca_file: ${JSON.stringify(foreign.caFile)}\n  verify: true\n}`;
    writeFileSync(conf, `server_name: rogue\nhost: 127.0.0.1\nport: -1\ncluster {\n  name: tether\n  host: 127.0.0.1\n  port: -1\n  routes: [nats-route://127.0.0.1:${routePort}]\n  ${tls(foreign.route)}\n}\n`);
    await using rogue = await NatsServer.start({ configFile: conf, name: "rogue", args: ["-D"] });
    await eventually(() => /unknown authority|bad certificate/i.test(rogue.log + cluster.servers[0]?.log), 20_000, "a refused route handshake");
    expect(rogue.log).not.toMatch(/Route connection created/);
    expect(cluster.servers[0]?.log ?? "").not.toMatch(/rogue/);
  });

  it("refuses a client without the cluster's CA with ERR_NATS_TLS naming the unknown CA (node, plain client and CLI)", async () => {
    await using server = await startTlsServer(dir, "no-ca", certs.caFile, certs.server);
    const url = server.url;
    const viaNode = await rejection(() => startNode(url));
    expect(hasCode(viaNode, "ERR_NATS_TLS")).toBe(true);
    expect(viaNode.details["reason"]).toBe("unknown-ca");
    expect(viaNode.message).toMatch(/not signed by a trusted CA.*--tls-ca/);

    // a plain NATS client with no options at all: the server demands TLS, the client cannot verify it
    const plain = await connect({ servers: url.replace("tls://", "nats://"), reconnect: false, timeout: 5_000 }).then(
      async (nc) => {
        await nc.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(classifyTlsFailure(plain)).toBe("unknown-ca");

    const foreign = await createDevCertificates({ dir: join(dir, "other-ca") });
    const wrongCa = await rejection(() => tryConnect(url, { caFile: foreign.caFile }));
    expect(wrongCa.details["reason"]).toBe("unknown-ca");

    const cli = await runTether(["agents", "ls", "--nats", url]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/ERR_NATS_TLS.*not signed by a trusted CA/);
    const ok = await runTether(["agents", "ls", "--nats", url, "--tls-ca", certs.caFile]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    // the commands that talk to a built-in actor connect with the same flags (they ignored --tls-ca before)
    const [approvals, workflow] = await Promise.all([
      runTether(["approvals", "ls", "--nats", url, "--tls-ca", certs.caFile]),
      runTether(["workflow", "status", "00000000-0000-4000-8000-000000000000", "--nats", url, "--tls-ca", certs.caFile]),
    ]);
    for (const r of [approvals, workflow]) expect(r.stderr).not.toMatch(/ERR_NATS_TLS/);
  });

  it("reports an expired server certificate and one for another host clearly", async () => {
    const expired = await issueCertificate({ dir: certs.dir, name: "expired", ca: certs, usage: "server", hosts: ["127.0.0.1", "localhost"], days: -1 });
    const otherHost = await issueCertificate({ dir: certs.dir, name: "other-host", ca: certs, usage: "server", hosts: ["nats.other.example", "192.0.2.7"] });
    await using expiredServer = await startTlsServer(dir, "expired", certs.caFile, expired);
    await using otherServer = await startTlsServer(dir, "other-host", certs.caFile, otherHost);
    await using goodServer = await startTlsServer(dir, "good", certs.caFile, certs.server);

    const e1 = await rejection(() => tryConnect(expiredServer.url, { caFile: certs.caFile }));
    expect(hasCode(e1, "ERR_NATS_TLS")).toBe(true);
    expect(e1.details["reason"]).toBe("expired");
    expect(e1.message).toMatch(/certificate has expired/);

    const e2 = await rejection(() => tryConnect(otherServer.url, { caFile: certs.caFile }));
    expect(e2.details["reason"]).toBe("wrong-host");
    expect(e2.message).toMatch(/not for this host name or address.*IP: 127\.0\.0\.1 is not in the cert's list/);

    await tryConnect(goodServer.url, { caFile: certs.caFile }); // the same CA and host: accepted
  });

  it("refuses plaintext on a TLS port, and a client that asked for TLS refuses a plaintext server", async () => {
    await using server = await startTlsServer(dir, "plain-attempt", certs.caFile, certs.server);
    const reply = await rawExchange(server.port, 'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
    // the server reads the plaintext CONNECT as a broken TLS handshake and drops the connection
    expect(reply).toMatch(/^INFO .*"tls_required":true/);
    expect(reply).not.toMatch(/PONG|\+OK/);
    await eventually(() => /TLS handshake error/.test(server.log), 5_000, "the server's handshake error");

    await using plain = await NatsServer.start({ name: "plain", jetstream: false });
    const e = await rejection(() => tryConnect(plain.url, { caFile: certs.caFile }));
    expect(hasCode(e, "ERR_NATS_TLS")).toBe(true);
    expect(e.details["reason"]).toBe("server-plaintext");
    // a tls:// URL alone asks for TLS, as with Tether's natsTlsConnectOptions
    const viaScheme = await rejection(() => startNode(plain.url.replace("nats://", "tls://")));
    expect(hasCode(viaScheme, "ERR_NATS_TLS")).toBe(true);
    expect(viaScheme.details["reason"]).toBe("server-plaintext");
  });

  it("with client verification (mutual TLS) refuses a client without a certificate and accepts the CA's client certificate", async () => {
    await using server = await startTlsServer(dir, "mtls", certs.caFile, certs.server, true);
    // TLS 1.3: the server refuses the missing certificate after the client's side of the handshake is
    // done; the client usually reads the alert, but under load its CONNECT may race the close and see a
    // reset. Either way the user is told to give a client certificate
    const e = await rejection(() => tryConnect(server.url, { caFile: certs.caFile }));
    // (a reset is classified in test/unit/tls.test.ts; a failure of another kind still counts as refused here)
    expect(["ERR_NATS_TLS", "ERR_TRANSPORT_FAILED"], e.message).toContain(e.code);
    if (e.code === "ERR_NATS_TLS") {
      expect(["client-certificate", "closed-by-server"]).toContain(e.details["reason"]);
      expect(e.message).toMatch(/client certificate.*--tls-cert|verifies clients.*--tls-cert/);
    }
    await eventually(() => /client didn't provide a certificate|failed to verify client certificate|certificate required/i.test(server.log), 5_000, "the server's refusal of a client without a certificate");
    const foreign = await createDevCertificates({ dir: join(dir, "mtls-foreign") });
    // a client certificate from another CA: refused (the client sees an alert or, racing it, a reset)
    const other = await rejection(() => tryConnect(server.url, { caFile: certs.caFile, ...foreign.client }));
    expect(["ERR_NATS_TLS", "ERR_TRANSPORT_FAILED"]).toContain(other.code);
    await eventually(() => /failed to verify client certificate/.test(server.log), 5_000, "the server's refusal");
    await tryConnect(server.url, { caFile: certs.caFile, ...certs.client });
  });

  it("runs networks as NATS accounts over TLS: a node with node credentials and the CA spawns and answers; credentials without the CA, or the CA without credentials, are refused", async () => {
    // <store>/server.conf includes config/nats.conf (beside client-tls.conf and route-tls.conf) and accounts.conf
    const store = join(dir, "accounts-tls");
    await using cluster = await NatsCluster.start({ accounts: true, tls: certs, storeDir: store });
    const accounts = cluster.accounts;
    if (accounts === undefined) throw new Error("the cluster runs without accounts");
    accounts.create("alpha", { nodes: 1 });
    await cluster.reload();
    const urls = cluster.urls;
    expect(urls.every((u) => u.startsWith("tls://127.0.0.1:"))).toBe(true);
    const nodeCreds = accounts.credentials("alpha", "node-1");

    await using node = await startNode(urls, { network: "alpha", jetstreamReplicas: 3, credentials: nodeCreds, tls: { caFile: certs.caFile } });
    await node.spawn("acct-tls-counter", Counter);
    expect(await node.ref<typeof Counter>("acct-tls-counter").ask({ type: "add", n: 4 })).toBe(4);

    // the right credentials do not get a client past TLS: without the CA the handshake fails first
    const noCa = await rejection(() => startNode(urls, { network: "alpha", credentials: nodeCreds }));
    expect(hasCode(noCa, "ERR_NATS_TLS")).toBe(true);
    expect(noCa.details["reason"]).toBe("unknown-ca");
    const cli = await runTether(["agents", "ls", "--network", "alpha", "--nats", urls.join(","), "--creds", nodeCreds]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/ERR_NATS_TLS.*not signed by a trusted CA/);

    // and TLS does not replace the accounts: the CA without credentials is refused by the server
    const anonymous = await rejection(() => tryConnect(urls[0] ?? "", { caFile: certs.caFile }));
    expect(anonymous.code).toBe("ERR_TRANSPORT_FAILED");
    expect(anonymous.message).toMatch(/authorization/i);

    // `tether network create` in another process reloads the TLS cluster (cluster.json names the CA) and waits for the new account
    const created = await runTether(["network", "create", "beta", "--nodes", "1", "--store", store]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/servers reloaded; .*--tls-ca /);
    await using beta = await startNode(urls, { network: "beta", jetstreamReplicas: 3, credentials: NetworkAccounts.open(store).credentials("beta", "node-1"), tls: { caFile: certs.caFile } });
    await beta.spawn("beta-counter", Counter);
    expect(await beta.ref<typeof Counter>("beta-counter").ask({ type: "add", n: 1 })).toBe(1);
  });

  it("`tether cluster up --tls --host` listens there, prints tls:// URLs and the CA path, and refuses plaintext off loopback", async () => {
    const refused = await runTether(["cluster", "up", "--host", "192.0.2.1", "--no-tls", "--ports", "auto", "--route-ports", "auto", "--store", join(dir, "refused")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ERR_CONFIG_INVALID.*refusing plaintext NATS on 192\.0\.2\.1/);

    // 127.0.0.2: another loopback address, so the listen address, the certificates' names and the routes all follow --host
    await using up = new TetherProcess(["cluster", "up", "--tls", "--host", "127.0.0.2", "--ports", "auto", "--route-ports", "auto", "--store", join(dir, "up")]);
    const [, urls = ""] = (await up.waitFor(/cluster ready: (\S+)/, 60_000)) as [string, string];
    const [, ca = ""] = (await up.waitFor(/CA certificate: (\S+)/)) as [string, string];
    expect(urls.split(",").every((u) => u.startsWith("tls://127.0.0.2:"))).toBe(true);
    expect(ca).toBe(join(dir, "up", "tls", "ca.pem"));
    // cluster up runs networks as NATS accounts by default: the example line names network default's node credentials and the CA
    const [, creds = ""] = (await up.waitFor(/--network default --creds (\S+) --tls-ca (\S+)/)) as [string, string];
    await using node = await startNode(urls.split(","), { jetstreamReplicas: 3, tls: { caFile: ca }, credentials: creds });
    await node.spawn("up-tls", Counter);
    expect(await node.ref<typeof Counter>("up-tls").ask({ type: "add", n: 2 })).toBe(2);
    await node.close();
    up.child.kill("SIGINT");
    expect(await up.exited).toBe(0);
    expect(up.stderr).not.toMatch(/warning/);
  });
});

/** The route port of a cluster's first server, from its generated config's environment (the log line). */
const routePortOf = async (cluster: NatsCluster): Promise<number> => {
  let port = 0;
  await eventually(() => {
    const m = /Listening for route connections on [^:]+:(\d+)/.exec(cluster.servers[0]?.log ?? "");
    port = Number(m?.[1] ?? 0);
    return port > 0;
  });
  return port;
};
