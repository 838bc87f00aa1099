// A development CA and the server, route and client certificates of `tether cluster up --tls`,
// made by Debian's `openssl` binary (EC P-256 keys, no hand-written ASN.1). For development only:
// the CA key sits next to the certificates it signs; production clusters bring their own (docs/tls.md).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { TetherError } from "../../protocols/index.ts";

/** A certificate and its private key (PEM files; the key is mode 0600). */
export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What `createDevCertificates` wrote. */
export interface DevCertificates {
  readonly dir: string;
  /** The CA certificate clients and servers trust (`--tls-ca`). */
  readonly caFile: string;
  readonly caKeyFile: string;
  /** The servers' certificate for client connections (serverAuth). */
  readonly server: CertificatePair;
  /** The servers' certificate for routes (serverAuth and clientAuth: a route dials and accepts). */
  readonly route: CertificatePair;
  /** A client certificate (clientAuth), for clusters that verify client certificates (mutual TLS). */
  readonly client: CertificatePair;
  /** The names and addresses in the server and route certificates' subjectAltName. */
  readonly hosts: readonly string[];
}

/** What a leaf certificate is for: its extendedKeyUsage. */
export type CertificateUsage = "server" | "client" | "peer";

const EXTENDED_KEY_USAGE: Record<CertificateUsage, string> = { server: "serverAuth", client: "clientAuth", peer: "serverAuth,clientAuth" };

/** Debian's openssl; an explicit path wins. */
export const findOpenssl = (explicit?: string): string => {
  const path = explicit ?? "/usr/bin/openssl";
  if (!existsSync(path)) {
    throw new TetherError("ERR_TLS_CERTS_FAILED", `openssl not found at ${path}: install Debian's openssl package (apt-get install openssl), or bring your own certificates (docs/tls.md)`);
  }
  return path;
};

const run = (openssl: string, args: readonly string[]): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(openssl, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new TetherError("ERR_TLS_CERTS_FAILED", `openssl ${args[0] ?? ""} failed: ${stderr.trim().split("\n").slice(-3).join(" | ") || error.message}`, { cause: error }));
    });
  });

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"] as const;

/**
 * The subjectAltName entries for a listen address: always 127.0.0.1, ::1 and localhost; the address
 * itself; for a wildcard (0.0.0.0, ::) this machine's host name and interface addresses instead.
 */
export const certificateHosts = (listen: readonly string[]): string[] => {
  const out = new Set<string>(["127.0.0.1", "::1", "localhost"]);
  for (const host of listen) {
    if (host === "0.0.0.0" || host === "::") {
      out.add(hostname());
      for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) out.add(a.address.split("%")[0] as string);
    } else out.add(host);
  }
  return [...out];
};

const subjectAltName = (hosts: readonly string[]): string => hosts.map((h) => (isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`)).join(",");

const restrictKey = (file: string): void => chmodSync(file, 0o600);

/** Creates a self-signed CA (valid 10 years) unless `dir` already holds one. */
const ensureCa = async (openssl: string, dir: string): Promise<{ caFile: string; caKeyFile: string }> => {
  const caFile = join(dir, "ca.pem");
  const caKeyFile = join(dir, "ca-key.pem");
  if (existsSync(caFile) && existsSync(caKeyFile)) return { caFile, caKeyFile };
  await run(openssl, [
    "req", "-x509", "-new", ...EC_KEY, "-keyout", caKeyFile, "-out", caFile, "-days", "3650",
    "-subj", "/O=Tether/CN=Tether development CA",
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]); // prettier-ignore
  restrictKey(caKeyFile);
  return { caFile, caKeyFile };
};

export interface IssueOptions {
  readonly dir: string;
  /** File name stem: `<name>.pem` and `<name>-key.pem`. */
  readonly name: string;
  readonly ca: { readonly caFile: string; readonly caKeyFile: string };
  readonly usage: CertificateUsage;
  /** subjectAltName entries (IP addresses and DNS names); none for a client certificate. */
  readonly hosts?: readonly string[];
  /**
   * Validity in days from now (default 825). Negative: a certificate that expired that many days
   * ago (its notAfter is before now), for tests of how an expired certificate is reported.
   */
  readonly days?: number;
  readonly openssl?: string;
}

/** Issues one leaf certificate signed by `ca`: a fresh EC P-256 key, a CSR, and `openssl x509 -req`. */
export const issueCertificate = async (options: IssueOptions): Promise<CertificatePair> => {
  const openssl = findOpenssl(options.openssl);
  const certFile = join(options.dir, `${options.name}.pem`);
  const keyFile = join(options.dir, `${options.name}-key.pem`);
  const csr = join(options.dir, `${options.name}.csr`);
  const ext = join(options.dir, `${options.name}.ext`);
  const hosts = options.hosts ?? [];
  const lines = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    `extendedKeyUsage=${EXTENDED_KEY_USAGE[options.usage]}`,
    ...(hosts.length === 0 ? [] : [`subjectAltName=${subjectAltName(hosts)}`]),
  ];
  try {
    writeFileSync(ext, `${lines.join("\n")}\n`);
    await run(openssl, ["req", "-new", ...EC_KEY, "-keyout", keyFile, "-out", csr, "-subj", `/O=Tether/CN=tether-${options.name}`]);
    restrictKey(keyFile);
    // openssl x509 takes a negative -days: notAfter lands before notBefore (now), an expired certificate
    await run(openssl, [
      "x509", "-req", "-in", csr, "-CA", options.ca.caFile, "-CAkey", options.ca.caKeyFile, "-set_serial", `0x${randomSerial()}`,
      "-days", String(options.days ?? 825), "-sha256", "-extfile", ext, "-out", certFile,
    ]); // prettier-ignore
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  return { certFile, keyFile };
};

/** A positive 128-bit serial number (leading hex digit 1: the top bit stays clear). */
const randomSerial = (): string => `1${randomBytes(15).toString("hex")}`;

export interface DevCertificateOptions {
  /** Where the files go (created mode 0700). An existing CA there is kept; the leaf certificates are re-issued. */
  readonly dir: string;
  /** Listen addresses and names the servers are reached by, besides 127.0.0.1 / localhost (`--host`). */
  readonly hosts?: readonly string[];
  readonly openssl?: string;
}

/**
 * Creates (or keeps) the development CA in `dir` and issues the server, route and client
 * certificates. Keeping the CA means clients that already trust `ca.pem` go on working after a restart.
 */
export const createDevCertificates = async (options: DevCertificateOptions): Promise<DevCertificates> => {
  const openssl = findOpenssl(options.openssl);
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  chmodSync(options.dir, 0o700);
  const ca = await ensureCa(openssl, options.dir);
  const hosts = certificateHosts(options.hosts ?? []);
  const issue = (name: string, usage: CertificateUsage, sans: readonly string[]) => issueCertificate({ dir: options.dir, name, ca, usage, hosts: sans, openssl });
  const [server, route, client] = await Promise.all([issue("server", "server", hosts), issue("route", "peer", hosts), issue("client", "client", [])]);
  return { dir: options.dir, ...ca, server, route, client, hosts };
};
