import { describe, expect, it } from "vitest";
import { hasCode } from "../../protocols/index.ts";
import { freeLoopbackPort } from "../../runtime/index.ts";
import type { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

/** Sum of the samples of `name` whose labels include every pair of `labels` (Prometheus text format). */
const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)/);
    if (m === null || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
};

const get = async (url: string): Promise<{ status: number; type: string; body: string }> => {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: await response.text() };
};

describe("tether node start --metrics-port", () => {
  it("serves Prometheus metrics a scraper reads, and /healthz: 200 while connected, 503 once NATS is gone", async () => {
    await using server = await startServer();
    await using node = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "scraped", "--agents", "test/fixtures/agents.ts", "--metrics-port", "0"]);
    const [, base] = (await node.waitFor(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics, health on /)) as unknown as [string, string];
    await node.waitFor(/hosting relay, cli-counter/);

    const healthy = await get(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(healthy.type).toBe("application/json");
    expect(JSON.parse(healthy.body)).toEqual({ status: "ok", node: "scraped", network: "default", actors: 2, nats: "connected" });
    expect((await get(`${base}/elsewhere`)).status).toBe(404);

    await using client = await startNode(server.url);
    const counter = client.ref<typeof Counter>("cli-counter");
    expect(await counter.ask({ type: "add", n: 2 })).toBe(2);
    counter.tell({ type: "add", n: 1 });
    expect(await counter.ask({ type: "get" })).toBe(3); // the tell was handled before this ask (one mailbox, in order)
    const refused = await client.ref("cli-counter").ask({ type: "nope" }).catch((e: unknown) => e);
    expect(hasCode(refused, "ERR_MESSAGE_UNKNOWN_TYPE")).toBe(true);

    const scraped = await get(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toMatch(/^text\/plain/);
    const text = scraped.body;
    const here = { tether_node: "scraped", tether_network: "default" };
    expect(sample(text, "tether_messages_received_total", { ...here, tether_actor_type: "Counter", tether_message_kind: "ask" })).toBe(2);
    expect(sample(text, "tether_messages_received_total", { ...here, tether_actor_type: "Counter", tether_message_kind: "tell" })).toBe(1);
    expect(sample(text, "tether_messages_rejected_total", { ...here, error_type: "ERR_MESSAGE_UNKNOWN_TYPE" })).toBe(1);
    expect(sample(text, "tether_dead_letters_total", { ...here, error_type: "ERR_MESSAGE_UNKNOWN_TYPE" })).toBe(1);
    expect(sample(text, "tether_actors_hosted", { ...here, tether_actor_type: "Counter" })).toBe(2);
    expect(sample(text, "tether_mailbox_depth", { ...here, tether_actor_type: "Counter" })).toBe(0);
    expect(text).toMatch(/^# TYPE tether_messages_received_total counter$/m);
    expect(text).toMatch(/^# HELP tether_mailbox_depth /m);

    await server.stop(); // NATS goes away: the node reconnects (forever) and is not healthy meanwhile
    await eventually(async () => (await get(`${base}/healthz`)).status === 503, 15_000, "healthz turning 503");
    expect(JSON.parse((await get(`${base}/healthz`)).body)).toMatchObject({ status: "unavailable", node: "scraped", nats: "reconnecting" });
    expect((await get(`${base}/metrics`)).status).toBe(200); // metrics stay readable while NATS is away
  }, 120_000);

  it("honours OTEL_METRICS_EXPORTER: without --metrics-port the SDK's own exporter (prometheus on its port), with it console beside /metrics (otlp reported, not combined)", async () => {
    await using server = await startServer();
    const sdkPort = await freeLoopbackPort();
    await using plain = new TetherProcess(["node", "start", "--nats", server.url, "--agents", "test/fixtures/agents.ts"], {
      OTEL_METRICS_EXPORTER: "prometheus",
      OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
      OTEL_EXPORTER_PROMETHEUS_PORT: String(sdkPort),
    });
    await using both = new TetherProcess(["node", "start", "--nats", server.url, "--network", "other", "--agents", "test/fixtures/agents.ts", "--metrics-port", "0"], {
      OTEL_METRICS_EXPORTER: "console,otlp",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
    });
    await plain.waitFor(/hosting relay, cli-counter/, 60_000);
    expect(plain.stdout).not.toMatch(/metrics on http/);
    const fromSdk = await get(`http://127.0.0.1:${sdkPort}/metrics`);
    expect(sample(fromSdk.body, "tether_actors_hosted", { tether_network: "default", tether_actor_type: "Counter" })).toBe(2);

    await both.waitFor(/hosting relay, cli-counter/, 60_000); // both actors hosted before the samples are read
    await both.waitFor(/name: 'tether\.actors\.hosted'/, 60_000); // the console exporter's periodic output
    const [, base] = (await both.waitFor(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/)) as unknown as [string, string];
    expect(sample((await get(`${base}/metrics`)).body, "tether_actors_hosted", { tether_network: "other" })).toBe(2);
    expect(both.stderr).toMatch(/metrics exporter "otlp" .* is not started with --metrics-port/);
  }, 120_000);
});
