import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TetherError } from "../protocols/index.ts";

/** Parses a TCP port option (0 to 65535; 0 picks a free one), with an error naming the flag. */
export const parsePort = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0 || n > 65_535) throw new TetherError("ERR_CONFIG_INVALID", `${flag} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
};

/** What `/healthz` reports: `ok` (200) only while the node runs and its NATS connection is up. */
export interface HealthReport {
  readonly status: "ok" | "starting" | "unavailable";
  readonly node?: string;
  readonly network?: string;
  readonly actors?: number;
  /** `connected`, `reconnecting` (disconnected, trying again), `closed`, or `stopping` (the node drains). */
  readonly nats?: string;
}

export interface MetricsServer extends AsyncDisposable {
  /** `http://host:port` the server listens on. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * One HTTP port for a node process: `GET /metrics` (Prometheus text format, from the exporter's
 * handler) and `GET /healthz` (200 with a JSON report while healthy, 503 otherwise). Anything else is
 * 404. Binds `host` (default loopback in the CLI: metrics are not published to the network unless asked).
 */
export const startMetricsServer = async (p: {
  host: string;
  port: number;
  metrics: (request: IncomingMessage, response: ServerResponse) => void;
  health: () => HealthReport;
}): Promise<MetricsServer> => {
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      p.metrics(request, response);
      return;
    }
    if (path === "/healthz") {
      const report = p.health();
      response.writeHead(report.status === "ok" ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" }).end(`${JSON.stringify(report)}\n`);
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause: NodeJS.ErrnoException) =>
      reject(new TetherError("ERR_CONFIG_INVALID", `--metrics-port: cannot listen on ${p.host}:${p.port}: ${cause.code ?? cause.message}`, { cause })),
    );
    server.listen(p.port, p.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  return { url: `http://${host}:${address.port}`, close, [Symbol.asyncDispose]: close };
};

/** Reads the node's state for `/healthz`: NATS connection status from the node's transport events. */
export class NodeHealth {
  #nats = "connected";
  #node: { id: string; network: string; localActors(): string[]; nats: { isClosed(): boolean } } | undefined;
  #stopping = false;

  /** Starts reporting on `node`; before this, `/healthz` answers 503 `starting`. */
  attach(node: { id: string; network: string; localActors(): string[]; nats: { isClosed(): boolean }; onEvent(listener: (e: { type: string; status?: string }) => void): () => void }): void {
    this.#node = node;
    node.onEvent((e) => {
      if (e.type === "transport") this.onTransport(e.status ?? "");
      if (e.type === "node-stopping") this.#stopping = true;
    });
  }

  /** A nats.js status event: disconnect / reconnecting → reconnecting, reconnect → connected, close → closed. */
  onTransport(status: string): void {
    if (status === "disconnect" || status === "reconnecting") this.#nats = "reconnecting";
    else if (status === "reconnect") this.#nats = "connected";
    else if (status === "close") this.#nats = "closed";
  }

  report(): HealthReport {
    const node = this.#node;
    if (node === undefined) return { status: "starting" };
    const nats = this.#stopping ? "stopping" : node.nats.isClosed() ? "closed" : this.#nats;
    return { status: nats === "connected" ? "ok" : "unavailable", node: node.id, network: node.network, actors: node.localActors().length, nats };
  }
}
