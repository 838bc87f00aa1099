import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerCertificate } from "node:tls";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../cli/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { classifyTlsFailure, isLoopbackHost, listenerSecurity, natsConnectError, natsTlsConnectOptions } from "../../runtime/index.ts";
import { plaintextWarning } from "../../runtime/internal.ts";
import { clientTlsConf, routeTlsConf, writeConfigDirectory } from "../../runtime/internal.ts";

const files = { caFile: "/c/ca.pem", server: { certFile: "/c/server.pem", keyFile: "/c/server-key.pem" }, route: { certFile: "/c/route.pem", keyFile: "/c/route-key.pem" } };

/** A peer certificate as Node hands it to checkServerIdentity (only the fields it reads). */
const peer = (altnames: string): PeerCertificate => ({ subject: { CN: "tether-server" }, subjectaltname: altnames }) as unknown as PeerCertificate;

const nodeError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe("listenerSecurity", () => {
  it("treats 127.0.0.0/8, ::1 and localhost as loopback, and nothing else", () => {
    for (const h of ["127.0.0.1", "127.10.0.3", "::1", "[::1]", "localhost", "LOCALHOST"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.5", "192.0.2.1", "128.0.0.1", "nats.example.com", "localhost.example.com", "::ffff:127.0.0.1"]) expect(isLoopbackHost(h), h).toBe(false);
  });

  it("runs TLS by default off loopback and plaintext with one warning on it", () => {
    expect(listenerSecurity("10.0.0.5", undefined)).toEqual({ tls: true });
    expect(listenerSecurity("0.0.0.0", undefined)).toEqual({ tls: true });
    const loopback = listenerSecurity("127.0.0.1", undefined);
    expect(loopback.tls).toBe(false);
    expect(loopback.warning).toMatch(/plaintext NATS on loopback/);
    expect(listenerSecurity("127.0.0.1", true)).toEqual({ tls: true });
  });

  it("refuses plaintext off loopback unless insecurePlaintext, which still warns", () => {
    let error: unknown;
    try {
      listenerSecurity("192.0.2.1", false);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toMatch(/refusing plaintext NATS on 192\.0\.2\.1.*--insecure-plaintext/);
    const insecure = listenerSecurity("192.0.2.1", false, true);
    expect(insecure.tls).toBe(false);
    expect(insecure.warning).toMatch(/INSECURE/);
  });
});

describe("the generated TLS includes", () => {
  it("require TLS on the client port, verify routes both ways, and verify clients only when asked", () => {
    const client = clientTlsConf(files, false);
    expect(client).toMatch(/tls \{[\s\S]*cert_file: "\/c\/server\.pem"[\s\S]*key_file: "\/c\/server-key\.pem"[\s\S]*ca_file: "\/c\/ca\.pem"[\s\S]*verify: false/);
    expect(clientTlsConf(files, true)).toMatch(/verify: true/);
    const route = routeTlsConf(files);
    expect(route).toMatch(/cert_file: "\/c\/route\.pem"[\s\S]*verify: true/);
    expect(clientTlsConf(undefined, false)).not.toMatch(/tls \{/);
    expect(routeTlsConf(undefined)).not.toMatch(/tls \{/);
  });

  it("quotes paths as config strings", () => {
    const odd = { ...files, caFile: '/c/a "b"\\ca.pem' };
    expect(routeTlsConf(odd)).toContain('ca_file: "/c/a \\"b\\"\\\\ca.pem"');
  });

  it("writes the template, what it includes, and the generated files into the cluster's config directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "tether-conf-"));
    try {
      writeFileSync(join(dir, "t.conf"), 'port: 1\ninclude "routes.conf"\ncluster {\n  include "route-tls.conf"\n}\n');
      writeFileSync(join(dir, "routes.conf"), "routes: []\n");
      writeFileSync(join(dir, "route-tls.conf"), "# the template's own copy, replaced by the generated one\n");
      const out = writeConfigDirectory(join(dir, "t.conf"), join(dir, "config"), { "route-tls.conf": "tls {}\n" });
      expect(out).toBe(join(dir, "config", "t.conf"));
      expect(readFileSync(join(dir, "config", "routes.conf"), "utf8")).toBe("routes: []\n");
      expect(readFileSync(join(dir, "config", "route-tls.conf"), "utf8")).toBe("tls {}\n");
      expect(existsSync(join(dir, "config", "t.conf"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("client TLS", () => {
  it("asks for TLS only with options or a tls:// URL", () => {
    expect(natsTlsConnectOptions(undefined, ["nats://127.0.0.1:4222"])).toEqual({});
    expect(natsTlsConnectOptions(undefined, ["tls://127.0.0.1:4222"]).tls).toBeDefined();
    expect(natsTlsConnectOptions({ caFile: "/c/ca.pem" }, ["nats://127.0.0.1:4222"]).tls).toMatchObject({ caFile: "/c/ca.pem" });
  });

  it("checks an IP URL's certificate against the given addresses, not against 'localhost'", () => {
    const check = natsTlsConnectOptions({ caFile: "/c/ca.pem" }, ["tls://127.0.0.1:4222"]).tls?.checkServerIdentity;
    if (check === undefined) throw new Error("no identity check");
    // Node passes "localhost" for an IP URL the NATS client gave no server name
    expect(check("localhost", peer("IP Address:127.0.0.1"))).toBeUndefined();
    expect(check("localhost", peer("DNS:localhost"))).toBeInstanceOf(Error); // names localhost, not 127.0.0.1
    expect(check("localhost", peer("IP Address:192.0.2.7, DNS:nats.other.example"))).toBeInstanceOf(Error);
    const named = natsTlsConnectOptions({}, ["tls://nats.example.com:4222"]).tls?.checkServerIdentity;
    expect(named?.("nats.example.com", peer("DNS:nats.example.com"))).toBeUndefined();
    expect(named?.("nats.example.com", peer("DNS:other.example.com"))).toBeInstanceOf(Error);
  });

  it("warns of a plaintext connection only when it leaves loopback", () => {
    expect(plaintextWarning("10.0.0.5:4222", {})).toMatch(/plaintext NATS connection to 10\.0\.0\.5:4222, which is not on loopback/);
    expect(plaintextWarning("nats.example.com:4222", { tls_required: false })).toBeDefined();
    expect(plaintextWarning("10.0.0.5:4222", { tls_required: true })).toBeUndefined();
    expect(plaintextWarning("10.0.0.5:4222", { tls_available: true })).toBeUndefined(); // the client upgrades when offered
    expect(plaintextWarning("127.0.0.1:4222", {})).toBeUndefined();
    expect(plaintextWarning("localhost:4222", {})).toBeUndefined();
  });

  it("names the TLS reason of a failed connect and leaves other failures ERR_TRANSPORT_FAILED", () => {
    expect(classifyTlsFailure(nodeError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"))).toBe("unknown-ca");
    expect(classifyTlsFailure(nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"))).toBe("unknown-ca");
    expect(classifyTlsFailure(nodeError("CERT_HAS_EXPIRED", "certificate has expired"))).toBe("expired");
    expect(classifyTlsFailure(nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match"))).toBe("wrong-host");
    expect(classifyTlsFailure(new Error("server does not support 'tls'"))).toBe("server-plaintext");
    expect(classifyTlsFailure(new Error("wrapped", { cause: nodeError("CERT_HAS_EXPIRED", "certificate has expired") }))).toBe("expired");
    expect(classifyTlsFailure(nodeError("ECONNREFUSED", "connection refused"))).toBeUndefined();

    const tls = natsConnectError(nodeError("CERT_HAS_EXPIRED", "certificate has expired"), ["tls://127.0.0.1:4222"]);
    expect(tls.code).toBe("ERR_NATS_TLS");
    expect(tls.details).toMatchObject({ reason: "expired", underlying: "CERT_HAS_EXPIRED" });
    expect(natsConnectError(nodeError("ECONNREFUSED", "connection refused"), ["nats://127.0.0.1:1"]).code).toBe("ERR_TRANSPORT_FAILED");
    // a reset of a TLS connection that offered no client certificate: most likely a server verifying clients
    const reset = natsConnectError(nodeError("ECONNRESET", "read ECONNRESET"), ["tls://127.0.0.1:4222"], { caFile: "ca.pem" } as { certFile?: string });
    expect({ code: reset.code, reason: reset.details["reason"] }).toEqual({ code: "ERR_NATS_TLS", reason: "closed-by-server" });
    expect(reset.message).toMatch(/--tls-cert/);
    expect(natsConnectError(new Error("connection closed"), ["tls://127.0.0.1:4222"], {}).details["reason"]).toBe("closed-by-server");
    expect(natsConnectError(nodeError("ECONNRESET", "read ECONNRESET"), ["tls://127.0.0.1:4222"], { certFile: "c.pem" }).code).toBe("ERR_TRANSPORT_FAILED");
    expect(natsConnectError(nodeError("ECONNRESET", "read ECONNRESET"), ["nats://127.0.0.1:4222"]).code).toBe("ERR_TRANSPORT_FAILED");
  });

  it("gives --tls-ca, --tls-cert and --tls-key (with environment defaults) to every command that takes --nats", () => {
    const leaves = (c: Command): Command[] => (c.commands.length === 0 ? [c] : c.commands.flatMap(leaves));
    const withNats = leaves(buildProgram()).filter((c) => c.options.some((o) => o.long === "--nats"));
    expect(withNats.length).toBeGreaterThanOrEqual(15);
    for (const c of withNats) {
      const tls = c.options.filter((o) => o.long?.startsWith("--tls-")).map((o) => [o.long, o.envVar]);
      expect(tls, c.name()).toEqual([
        ["--tls-ca", "TETHER_TLS_CA"],
        ["--tls-cert", "TETHER_TLS_CERT"],
        ["--tls-key", "TETHER_TLS_KEY"],
      ]);
    }
  });
});
