import { connect as tcpConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { pack } from "msgpackr";
import { HeaderNames, networkSubjects } from "../../protocols/index.ts";
import type { Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
const prng = (seed: number) => () => {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/**
 * Publishes one message over a raw client connection, header block byte for byte: nats.js writes a
 * status line only with a description (`NATS/1.0 503 No Responders`), the issue's message had none.
 */
const rawHpub = (url: string, subject: string, headerBlock: string, body = ""): Promise<void> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = tcpConnect(Number(port), hostname);
    let seen = "";
    const hdr = Buffer.byteLength(headerBlock);
    socket.on("data", (chunk) => {
      seen += chunk.toString();
      if (seen.includes("PONG")) {
        socket.end();
        resolve();
      } else if (seen.includes("-ERR")) {
        socket.destroy();
        reject(new Error(`server refused the raw message: ${seen}`));
      }
    });
    socket.on("error", reject);
    socket.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":false,"protocol":1}\r\n`);
    socket.write(`HPUB ${subject} ${hdr} ${hdr + Buffer.byteLength(body)}\r\n${headerBlock}${body}\r\nPING\r\n`);
  });

/** An ask across nodes: `asker`'s reply inbox must be read for it to resolve. */
const answers = async (asker: Node, id: string): Promise<boolean> =>
  (await asker.ref<typeof Counter>(id).ask({ type: "add", n: 1 }, { timeoutMs: 1_000 }).catch(() => undefined)) !== undefined;

describe("every NATS subscription of a node", () => {
  it("keeps reading NATS after a 503 with an empty body arrives on its reply inbox for an invalid target", async () => {
    await using server = await startServer();
    await using victim = await startNode(server.url);
    await using other = await startNode(server.url);
    await victim.spawn("here", Counter);
    await other.spawn("there", Counter);
    const nc = await connect({ servers: server.url });
    try {
      const inbox = networkSubjects("default").replyPrefix(victim.id);
      // the issue's message exactly (no status description), and nats.js's closest (with one)
      await rawHpub(server.url, `${inbox}x.bad.target`, "NATS/1.0 503\r\n\r\n");
      nc.publish(`${inbox}x.bad.target`, new Uint8Array(), { headers: headers(503, "No Responders") });
      nc.publish(`${inbox}x.bad..target`, new Uint8Array(), { headers: headers(503, "No Responders") });
      nc.publish(`${inbox}x`, new Uint8Array(), { headers: headers(503, "No Responders") }); // a 503 for no ask at all
      await nc.flush();
      // the victim's asks are answered through its inbox; its own actor answers asks from the other node
      for (let i = 0; i < 5; i++) {
        expect(await answers(victim, "there")).toBe(true);
        expect(await answers(other, "here")).toBe(true);
      }
    } finally {
      await nc.close();
    }
  });

  it("survives 20,000 random and mutated messages on every subject it listens on: no crash, still answering, no failover, RSS back near its baseline", async () => {
    await using server = await startServer();
    await using node = new TetherProcess(
      ["node", "start", "--nats", server.url, "--node-id", "fz", "--agents", "test/fixtures/fuzz-agents.ts", "--log-level", "error"],
      { NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --expose-gc` },
    );
    await node.waitFor(/node fz up .*hosting fz-counter, fz-orders; supervising fz-tree/, 30_000);
    await using client = await startNode(server.url);
    const rss = async (): Promise<number> => {
      const before = node.stdout.length;
      node.child.kill("SIGUSR2");
      await eventually(() => /rss \d+ .*\n/.test(node.stdout.slice(before)), 5_000, "an RSS report");
      return Number(/rss (\d+) /.exec(node.stdout.slice(before))?.[1]);
    };
    const sub = networkSubjects("default");
    const rand = prng(20261127);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    const word = () => pick(["fz", "fz-counter", "fz-orders", "fz-child", "fz-tree", "x", "bad", "", "*", "é", "a".repeat(200), Math.floor(rand() * 1e6).toString(36)]);
    const token = () => pick(["fz-counter", "fz-orders", "fz-child", "nobody", Math.floor(rand() * 1e9).toString(36)]);
    const subjects = [
      () => sub.actor(pick(["fz-counter", "fz-orders", "fz-child", "fz-tree"])),
      () => `${sub.replyPrefix("fz")}${word()}`,
      () => `${sub.replyPrefix("fz")}${word()}.${word()}`,
      () => `${sub.replyPrefix("fz")}${word()}.${word()}.${word()}`,
      () => sub.node("fz"),
      () => sub.failures(pick(["fz-child", "fz-tree", "fz-counter"])),
      () => sub.durable(pick(["fz-orders", "fz-orders", token()])),
      () => `$KV.${sub.keysBucket()}.key.${token()}`, // the key registry's watcher
      () => `$KV.${sub.governanceBucket()}.${pick(["policy", `member.${token()}`])}`, // the governance watcher (verifies on read)
    ];
    const full = pack({ type: "order", n: 1 });
    const bodies = [
      () => new Uint8Array(),
      () => bytes(Math.floor(rand() * 64)),
      () => full.subarray(0, Math.floor(rand() * full.length)), // truncated msgpack
      () => pack({ type: pick(["add", "get", "order", "fail", "tether.node.v1.fence", "tether.node.v1.activate", "tether.node.v1.failure", "type", ""]), n: pick([1, -1, 1.5, "x", null]), actorId: token(), by: token(), nodeId: token(), messageId: token(), code: "ERR_X", className: pick(["Counter", "OrderBook", "Object", "__proto__"]) }),
      () => pack(pick([null, 0, "str", [], {}, true, { type: "order", n: 7 }, { type: "fail", reason: "fuzz" }])),
      () => new TextEncoder().encode(pick(["{", "{}", '{"kid":1}', "null", "\u0000\u0001"])),
      () => bytes(4096),
      // wire envelopes (version first): well-formed, wrong version, wrong kind, bad shapes, credits, errors
      () => pack([1, pick([1, 2, 3, 4, 5, 6, 7, -1, "tell"]), token(), token(), pick([0, 1, 255, "x"]), { type: pick(["add", "get", "order", "fail"]), n: pick([1, -1, "x"]) }]),
      () => pack([pick([0, 2, 99, "1", null]), 1, token(), token(), 0, { type: "add", n: 1 }]),
      () => pack([1, 6, pick([1, 0, -5, 1e9, "x", null])]),
      () => pack([1, 5, pick([{ code: "ERR_X", message: "m", retryable: true, details: {} }, null, "x"]), pick([token(), 5, undefined])]),
      () => pack([1, 4]),
      () => pack([1]),
    ];
    const headerNames = [HeaderNames.executionContext, HeaderNames.receipt, HeaderNames.binding, HeaderNames.traceparent, HeaderNames.tracestate, "tether-kind", "Nats-Msg-Id", "KV-Operation", "X"];
    const randomHeaders = (): MsgHdrs | undefined => {
      const roll = rand();
      if (roll < 0.2) return undefined;
      const h = roll < 0.4 ? headers(pick([100, 404, 408, 409, 503]), pick(["No Responders", "Request Timeout", "x"])) : headers();
      const k = Math.floor(rand() * 4);
      for (let i = 0; i < k; i++) h.set(pick(headerNames), pick(["ask", "tell", "reply", "error", "compensate", "DEL", "PURGE", "", "x".repeat(300), token(), "00-bad-trace-01"]));
      return h;
    };
    const nc: NatsConnection = await connect({ servers: server.url });
    const inbox = `_FUZZ.${Math.floor(rand() * 1e9)}`;
    const replies = nc.subscribe(`${inbox}.>`, { callback: () => undefined });
    const fuzz = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const h = randomHeaders();
        const reply = rand() < 0.3 ? `${inbox}.${i}` : undefined;
        nc.publish(pick(subjects)(), pick(bodies)(), { ...(h === undefined ? {} : { headers: h }), ...(reply === undefined ? {} : { reply }) });
        if (i % 500 === 499) {
          await nc.flush();
          expect(node.child.exitCode, `node died during the fuzz:\n${node.stderr.slice(-4000)}`).toBeNull();
        }
        // the exact message of the issue, now and then
        if (i % 2_000 === 1_999) await rawHpub(server.url, `${sub.replyPrefix("fz")}x.bad.target`, "NATS/1.0 503\r\n\r\n");
      }
      await nc.flush();
    };
    const N = 20_000;
    let baseline = 0;
    let started = 0;
    try {
      // warm up every path (normal traffic and a short fuzz: allocator pools, JIT), then take the baseline
      for (let i = 0; i < 200; i++) await client.ref<typeof Counter>("fz-counter").ask({ type: "add", n: 1 });
      for (let i = 0; i < 50; i++) await client.ref("fz-orders").send({ type: "order", n: i });
      await fuzz(2_000);
      await new Promise((r) => setTimeout(r, 2_000));
      baseline = await rss();
      started = Date.now();
      await fuzz(N);
    } finally {
      replies.unsubscribe();
      await nc.close();
    }
    const fuzzMs = Date.now() - started;

    expect(node.child.exitCode, node.stderr.slice(-4000)).toBeNull();
    // still reading NATS: answers asks (through its actor subjects) and its own asks come back (its inbox)
    const counter = client.ref<typeof Counter>("fz-counter");
    await eventually(async () => typeof (await counter.ask({ type: "get" }, { timeoutMs: 1_000 }).catch(() => undefined)) === "number", 5_000, "an answer after the fuzz");
    for (let i = 0; i < 20; i++) {
      const before = await counter.ask({ type: "get" }, { timeoutMs: 1_000 });
      expect(await counter.ask({ type: "add", n: 1 }, { timeoutMs: 1_000 })).toBe(before + 1);
    }
    await client.ref("fz-orders").send({ type: "order", n: 1_000_000 });
    const sentAt = Date.now();
    await eventually(
      async () => ((await client.ref("fz-orders").ask({ type: "summary" }, { timeoutMs: 1_000 }).catch(() => ({ orders: [] }))) as { orders: number[] }).orders.includes(1_000_000),
      30_000,
      "a durable message after the fuzz",
    ).catch(async (error: unknown) => {
      const jsm = await jetstreamManager(client.nats);
      throw new Error(`${String(error)}: ${JSON.stringify(await jsm.consumers.info(sub.durableStream(), "a_fz-orders"))}\n${node.stderr.slice(-3000)}`);
    });
    console.log(`durable message after the fuzz handled in ${Date.now() - sentAt} ms`);
    expect(node.stdout).not.toMatch(/took over|fenced|is dead/); // one node: nothing to fail over or fence
    expect(node.stderr).not.toMatch(/unhandled|uncaught/i);

    await new Promise((r) => setTimeout(r, 2_000)); // let the dead letters and replies drain
    const after = await rss();
    console.log(`subscription fuzz: ${N} messages in ${fuzzMs} ms; RSS ${Math.round(baseline / 1e6)} MB before, ${Math.round(after / 1e6)} MB after`, node.stdout.split("\n").filter((l) => l.startsWith("rss")));
    expect(after).toBeLessThan(1.5 * baseline);
  }, 60_000);
});
