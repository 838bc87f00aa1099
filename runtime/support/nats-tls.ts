// The client side of TLS: the option every connecting node and CLI command takes, what it becomes in
// the NATS client's options, and a failed connect turned into a coded error that names the TLS reason.
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { z } from "zod";
import { TetherError, isTetherError } from "../../protocols/index.ts";

/**
 * TLS of a client connection (`Node.create({ tls })`, `--tls-ca/--tls-cert/--tls-key`). The server
 * certificate is always verified (chain and host name); `caFile` is the CA to trust instead of the
 * system store (the development CA of `tether cluster up --tls`). `certFile` + `keyFile` are a client
 * certificate, for servers that verify clients (mutual TLS).
 */
export const NatsTlsOptions = z
  .strictObject({
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: "certFile and keyFile go together" });
export type NatsTlsOptions = z.output<typeof NatsTlsOptions>;

/**
 * The `tls` field of the NATS client's connect options. The client upgrades to TLS whenever the
 * server requires it; with options (or a `tls://` URL) it also refuses a server that offers none.
 */
export const natsTlsConnectOptions = (tls: NatsTlsOptions | undefined, servers: readonly string[]): { tls?: ClientTls } => {
  const asked = tls !== undefined || servers.some((s) => s.trim().toLowerCase().startsWith("tls://"));
  if (!asked) return {};
  const out: { -readonly [K in keyof ClientTls]: ClientTls[K] } = { checkServerIdentity: ipAwareIdentityCheck(servers) };
  if (tls?.caFile !== undefined) out.caFile = tls.caFile;
  if (tls?.certFile !== undefined) out.certFile = tls.certFile;
  if (tls?.keyFile !== undefined) out.keyFile = tls.keyFile;
  return { tls: out };
};

/** The fields of the NATS client's `tls` option that Tether sets (the client passes extra ones on to `tls.connect`). */
interface ClientTls {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

const hostOf = (server: string): string => {
  try {
    return new URL(server.includes("://") ? server : `nats://${server}`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "";
  }
};

/**
 * The NATS client gives Node no server name for an IP-address URL, and Node then checks the
 * certificate against "localhost" (measured: a certificate for another host was reported as "Host:
 * localhost is not in the cert's altnames"), so any certificate naming localhost would pass. For IP
 * URLs this checks the addresses the client was given instead: the certificate must name one of them.
 * Named hosts keep Node's check of the name the client connected to.
 */
const ipAwareIdentityCheck = (servers: readonly string[]) => {
  const ips = [...new Set(servers.map(hostOf).filter((h) => isIP(h) !== 0))];
  return (hostname: string, cert: PeerCertificate): Error | undefined => {
    if (hostname !== "localhost" || ips.length === 0) return checkServerIdentity(hostname, cert);
    let first: Error | undefined;
    for (const ip of ips) {
      const error = checkServerIdentity(ip, cert);
      if (error === undefined) return undefined;
      first ??= error;
    }
    return first;
  };
};

/**
 * The warning for a connection that runs in plaintext to a server off loopback (undefined otherwise).
 * The NATS client upgrades whenever the server requires or offers TLS, so the server's INFO says
 * whether this connection is encrypted.
 */
export const plaintextWarning = (server: string, info: { readonly tls_required?: boolean; readonly tls_available?: boolean } | undefined): string | undefined => {
  if (info?.tls_required === true || info?.tls_available === true) return undefined;
  const host = hostOf(server);
  const loopback = host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
  return loopback ? undefined : `plaintext NATS connection to ${server}, which is not on loopback: messages, tokens and ledger records cross the network unencrypted (docs/tls.md)`;
};

/** Why a TLS connection failed, from Node's and the NATS client's error codes and messages. */
export const TlsFailure = {
  "unknown-ca": "the server's certificate is not signed by a trusted CA (give the cluster's CA with --tls-ca / tls.caFile)",
  expired: "the server's certificate has expired",
  "not-yet-valid": "the server's certificate is not valid yet",
  "wrong-host": "the server's certificate is not for this host name or address",
  "client-certificate": "the server requires a client certificate signed by its CA and got none or another (--tls-cert and --tls-key)",
  "server-plaintext": "TLS was asked for, but the server offers no TLS",
  "tls-required": "the server requires TLS",
  "bad-files": "a TLS file could not be read",
  handshake: "the TLS handshake failed",
  "closed-by-server": "the server closed the TLS connection without an alert; if it verifies clients, give a certificate signed by its CA (--tls-cert and --tls-key)",
} as const;
export type TlsFailure = keyof typeof TlsFailure;

const codeOf = (error: unknown): string => {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return "";
};

const messageOf = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(": ");
};

/** Classifies a connect error as a TLS failure, or undefined when TLS is not what failed. */
export const classifyTlsFailure = (error: unknown): TlsFailure | undefined => {
  const code = codeOf(error);
  const message = messageOf(error);
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/.test(code)) return "unknown-ca";
  if (code === "CERT_HAS_EXPIRED") return "expired";
  if (code === "CERT_NOT_YET_VALID") return "not-yet-valid";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "wrong-host";
  // Go's TLS server answers a missing or unverifiable client certificate with alert 42 (bad certificate), TLS 1.3 may send 116
  if (/ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_REQUIRED|ALERT_UNKNOWN_CA|certificate required/i.test(`${code} ${message}`)) return "client-certificate";
  if (/server does not support 'tls'/.test(message)) return "server-plaintext";
  if (/TLS Required/i.test(message)) return "tls-required";
  if (/doesn't exist|ENOENT|EACCES|PEM|no start line|bad decrypt|KEY_VALUES_MISMATCH/i.test(`${code} ${message}`)) return "bad-files";
  if (/^ERR_SSL_|^ERR_TLS_|^EPROTO$/.test(code) || /ssl|tls|handshake|certificate/i.test(message)) return "handshake";
  return undefined;
};

/**
 * The error of a failed connect: ERR_NATS_TLS with `details.reason` when TLS failed, else
 * ERR_TRANSPORT_FAILED. The message names the servers and the underlying reason. `tls` is the client's
 * TLS option (from `natsTlsConnectOptions`), when TLS was asked for.
 */
export const natsConnectError = (cause: unknown, servers: readonly string[], tls?: { readonly certFile?: string }): TetherError => {
  if (isTetherError(cause)) return cause; // e.g. ERR_CREDENTIALS_INVALID from the authenticator
  const where = servers.join(",");
  // TLS 1.3: a server that verifies clients refuses a missing certificate after the client's side of
  // the handshake is done; a loaded client often sees the reset before it reads the alert
  const reason = classifyTlsFailure(cause) ?? (tls !== undefined && tls.certFile === undefined && (/^(ECONNRESET|EPIPE)$/.test(codeOf(cause)) || /connection closed|closed connection|socket hang up/i.test(messageOf(cause))) ? "closed-by-server" : undefined);
  if (reason !== undefined) {
    return new TetherError("ERR_NATS_TLS", `TLS connection to NATS at ${where} failed: ${TlsFailure[reason]} (${messageOf(cause)})`, {
      cause,
      details: { reason, servers: [...servers], underlying: codeOf(cause) || messageOf(cause) },
    });
  }
  return new TetherError("ERR_TRANSPORT_FAILED", `cannot connect to NATS at ${where}: ${String(cause)}`, { cause });
};
