import type { Command } from "commander";
import { Node, createStderrLogger, type LogLevel } from "../runtime/index.ts";
import { OVERRIDE_ACTOR_ID, TetherError, hasCode } from "../protocols/index.ts";
import { SupervisionHost } from "../supervisors/index.ts";
import { ApprovalClient, Workflows } from "../actors/index.ts";
import { approvalLink, systemClock } from "../runtime/index.ts";
import { loadApprovalPolicies, type LoadedApprovalPolicies } from "./approval-policies.ts";
import { importAgentsModule, loadAgentsModule } from "./agents-module.ts";
import { natsOption } from "./nats-option.ts";
import { hostOverrides } from "./override-host.ts";
import { examples } from "./output.ts";
import { credentialsOf } from "./nats-option.ts";
import { parsePositiveInt, serversOrEmbedded } from "./servers.ts";
import { NodeHealth, parsePort, startMetricsServer, type MetricsServer } from "./metrics-server.ts";
import { nodeTls, type TlsFlags } from "./tls-options.ts";
import { startTelemetry } from "./telemetry.ts";

interface NodeStartFlags extends TlsFlags {
  nats: string;
  creds?: string;
  embedded?: boolean;
  network: string;
  agents?: string;
  nodeId?: string;
  replicas?: number;
  logLevel: LogLevel;
  profile: string;
  minLevel?: string;
  keyDir: string;
  ledgerMode: string;
  overrides?: boolean;
  approvalPolicies?: string;
  leaseMs?: number;
  durableAckWaitMs?: number;
  metricsPort?: number;
  metricsHost: string;
}

/** `tether node start`: a node process hosting the agents a module exports, until SIGINT/SIGTERM. */
export const registerNodeCommand = (program: Command): void => {
  const node = examples(program.command("node").description("run Tether nodes"), "tether node start --agents examples/triage/agents.ts");
  examples(
    node.command("start"),
    "tether node start --agents examples/triage/agents.ts",
    "tether node start --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222 --replicas 3 --agents ./agents.ts",
    "tether node start --embedded --agents examples/triage/agents.ts     # a throwaway local nats-server",
    "tether node start --agents ./agents.ts --metrics-port 9464            # Prometheus on :9464/metrics, health on /healthz",
  )
    .description("start a node process hosting the agents exported by --agents (Ctrl-C or SIGTERM drains and stops it)")
    .addOption(natsOption())
    .option("--embedded", "start an embedded nats-server on a free loopback port instead of connecting to --nats (development)")
    .option("--network <name>", "network (tenant) name", "default")
    .option("--agents <module>", "required: module whose default export is a defineAgents([...]) list, and/or whose `supervisors` export lists supervision trees; the node hosts only these")
    .option("--node-id <id>", "stable node id (default: random)")
    .option("--replicas <n>", "JetStream replicas for the registry and dead letters (3 on a 3-node cluster)", parsePositiveInt("--replicas"))
    .option("--log-level <level>", "debug | info | warn | error", "info")
    .option("--profile <profile>", "assurance profile: relaxed | standard | regulated", "relaxed")
    .option("--min-level <level>", "refuse incoming tokens below L1 | L2 | L3 (default: the profile's level)")
    .option("--key-dir <dir>", "directory of the node's private signing key", ".tether/keys")
    .option("--ledger-mode <mode>", "regulated profile: sync (L3, wait for receipts) | async (L2)", "sync")
    .option("--overrides", "host the network's override actor (stop, pause, … signals), or stand by for it")
    .option("--approval-policies <file>", "approval gates (JSON, or an ES module exporting them): actions they match wait for a human's signed decision; the node hosts the approvals actor or stands by for it")
    .option("--lease-ms <ms>", "node lease: declared dead (and its actors failed over) after this long without a heartbeat", parsePositiveInt("--lease-ms"))
    .option("--durable-ack-wait-ms <ms>", "durable lane: a message handled but not acknowledged (its node died) is redelivered after this long", parsePositiveInt("--durable-ack-wait-ms"))
    .option("--metrics-port <port>", "serve Prometheus metrics on http://<metrics-host>:<port>/metrics and a health check on /healthz (0: any free port)", parsePort("--metrics-port"))
    .option("--metrics-host <host>", "address the metrics port binds", "127.0.0.1")
    .action(async (flags: NodeStartFlags, command: Command) => {
      if (flags.agents === undefined) {
        throw new TetherError(
          "ERR_CONFIG_INVALID",
          "node start needs --agents <module>: a node hosts only the agents and supervision trees that module exports (e.g. --agents examples/triage/agents.ts)",
        );
      }
      const agentsModule = flags.agents;
      await importAgentsModule(agentsModule); // fails fast, before anything starts
      const gates: LoadedApprovalPolicies | undefined = flags.approvalPolicies === undefined ? undefined : await loadApprovalPolicies(flags.approvalPolicies);
      const approvals = gates === undefined ? undefined : new ApprovalClient();
      const natsSource = command.getOptionValueSource("nats");
      const servers = serversOrEmbedded(flags, natsSource);
      const telemetry = await startTelemetry(process.env, "tether-node", { prometheus: flags.metricsPort !== undefined });
      for (const warning of telemetry.warnings) process.stderr.write(`tether: ${warning}\n`);
      // the port is bound before the node starts (a taken port fails fast); /healthz says 503 "starting" until then
      const health = new NodeHealth();
      let metricsServer: MetricsServer | undefined;
      if (flags.metricsPort !== undefined && telemetry.prometheus !== undefined) {
        metricsServer = await startMetricsServer({ host: flags.metricsHost, port: flags.metricsPort, metrics: telemetry.prometheus, health: () => health.report() }).catch(async (error: unknown) => {
          await telemetry.shutdown();
          throw error;
        });
        process.stdout.write(`tether: metrics on ${metricsServer.url}/metrics, health on ${metricsServer.url}/healthz\n`);
      }
      const logger = createStderrLogger(flags.logLevel);
      const n = await Node.create(
        {
          network: flags.network,
          servers,
          ...credentialsOf(flags),
          ...nodeTls(flags),
          ...(flags.nodeId === undefined ? {} : { nodeId: flags.nodeId }),
          ...(flags.replicas === undefined ? {} : { jetstreamReplicas: flags.replicas }),
          ...(flags.leaseMs === undefined ? {} : { leaseTtlMs: flags.leaseMs, heartbeatMs: Math.max(50, Math.floor(flags.leaseMs / 4)) }),
          ...(flags.durableAckWaitMs === undefined ? {} : { durableAckWaitMs: flags.durableAckWaitMs }),
          assurance: {
            profile: flags.profile as "relaxed",
            keyDir: flags.keyDir,
            ledger: { mode: flags.ledgerMode as "sync" },
            ...(flags.minLevel === undefined ? {} : { minLevel: flags.minLevel as "L1" }),
          },
        },
        {
          logger,
          ...(telemetry.tracerProvider === undefined ? {} : { tracerProvider: telemetry.tracerProvider }),
          ...(gates === undefined || approvals === undefined
            ? {}
            : { actionInterceptors: [approvalLink({ policies: gates.policies, risks: gates.risks, port: approvals, clock: systemClock, profile: flags.profile })] }),
        },
      ).catch((error: unknown) => {
        // a new user without a server: say how to get one
        if (hasCode(error, "ERR_TRANSPORT_FAILED") && natsSource === "default") {
          throw new TetherError("ERR_TRANSPORT_FAILED", `${(error as TetherError).message}\n  no NATS server at the default address: give --nats <url> (or TETHER_NATS_URL), start one with \`tether cluster up\`, or run a throwaway one with --embedded`, { cause: error });
        }
        throw error;
      }).catch(async (error: unknown) => {
        await metricsServer?.close();
        await telemetry.shutdown();
        throw error;
      });
      health.attach(n);
      let stopping: Promise<void> | undefined;
      let supervision: SupervisionHost | undefined;
      const stop = (signal: string) => {
        stopping ??= (async () => {
          process.stdout.write(`tether: ${signal}: draining node ${n.id}\n`);
          // supervisors running here move to a live node that registered their tree before this one closes
          for (const { supervisor, to } of (await supervision?.handOff().catch(() => [])) ?? []) {
            process.stdout.write(to === undefined ? `tether: no node could take supervisor ${supervisor}: it stops with this node\n` : `tether: handed supervisor ${supervisor} to ${to}\n`);
          }
          try {
            // the node first: draining, releasing its actors and removing its lease all need the server
            await n.close();
          } finally {
            // the embedded server last (its own process group, so the terminal's Ctrl-C did not reach it)
            await n.embeddedServer?.stop();
          }
          await metricsServer?.close();
          await telemetry.shutdown();
          process.stdout.write(`tether: node ${n.id} stopped\n`);
          process.exit(0);
        })().catch((error: unknown) => {
          process.stderr.write(`tether: stopping node ${n.id} failed: ${String(error)}\n`);
          process.exit(1);
        });
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
      try {
        const loaded = await loadAgentsModule(agentsModule, { nodeId: n.id, network: n.network });
        Workflows.register(n); // every node can run (and take over) workflows: `tether workflow run`
        if (approvals !== undefined && gates !== undefined) {
          await approvals.attach(n).start(); // hosts the approvals actor unless it runs elsewhere (then stands by for it)
          process.stdout.write(`tether: ${gates.policies.length} approval ${gates.policies.length === 1 ? "policy" : "policies"} loaded from ${gates.file} (${gates.policies.map((p) => p.id).join(", ")})\n`);
        }
        const specs = loaded.agents;
        n.onEvent((e) => {
          if (e.type === "actor-failed-over") process.stdout.write(`tether: took over ${e.actorId} from dead node ${e.from}\n`);
          if (e.type === "actor-fenced") process.stdout.write(`tether: fenced ${e.actorId}: ${e.reason}\n`);
          if (e.type === "node-dead") process.stdout.write(`tether: node ${e.nodeId} is dead (${e.actors.length} actors to fail over)\n`);
        });
        const hosted: string[] = [];
        const standby: string[] = [];
        for (const spec of specs) {
          const options = {
            ...(spec.args === undefined ? {} : { args: spec.args }),
            ...(spec.capabilities === undefined ? {} : { capabilities: spec.capabilities }),
            ...(spec.mailboxCapacity === undefined ? {} : { mailboxCapacity: spec.mailboxCapacity }),
            ...(spec.durable === undefined ? {} : { durable: spec.durable }),
          };
          n.registerType(spec.actor, options); // this node can take the agent over if its host dies
          try {
            await n.spawn(spec.id, spec.actor, { ...options, restore: true });
            hosted.push(spec.id);
          } catch (error) {
            if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
            standby.push(spec.id); // live on another node: this one is a failover standby for it
          }
        }
        if (flags.overrides === true) (await hostOverrides(n)) === "hosting" ? hosted.push(OVERRIDE_ACTOR_ID) : standby.push(OVERRIDE_ACTOR_ID);
        // supervision trees: registered on every node (any of them can take a tree over when its node
        // dies); the first node to claim a tree's id starts it, the others stand by
        const supervising: string[] = [];
        if (loaded.supervisors.length > 0) {
          const host = SupervisionHost.of(n);
          supervision = host;
          for (const tree of loaded.supervisors) host.register(tree);
          host.onEvent((e) => {
            if (e.type === "took-over") process.stdout.write(`tether: took over supervisor ${e.supervisor} (kept ${e.kept.join(", ") || "none"}; lost ${e.lost.join(", ") || "none"})\n`);
            if (e.type === "children-restarted") process.stdout.write(`tether: supervisor ${e.supervisor} restarted ${e.children.join(", ")}\n`);
            if (e.type === "gave-up") process.stdout.write(`tether: supervisor ${e.supervisor} gave up (child ${e.child})\n`);
          });
          for (const tree of loaded.supervisors) {
            try {
              await host.start(tree.id);
              supervising.push(tree.id);
            } catch (error) {
              if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
              standby.push(tree.id);
            }
          }
        }
        process.stdout.write(
          `tether: node ${n.id} up on ${n.url} (network ${n.network}), hosting ${hosted.length === 0 ? "no agents" : hosted.join(", ")}${supervising.length === 0 ? "" : `; supervising ${supervising.join(", ")}`}${standby.length === 0 ? "" : `; standby for ${standby.join(", ")}`}\n`,
        );
      } catch (error) {
        await n.close();
        await metricsServer?.close();
        await telemetry.shutdown();
        throw error;
      }
    });
};
