import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

/** pid, command name, parent pid and process group of a live process, from /proc (Linux). */
const procStat = (pid: number): { comm: string; ppid: number; pgrp: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z") return undefined; // exited, not yet reaped
    return { comm, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
};

const natsServersStartedBy = (parent: number): number[] =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      const s = procStat(pid);
      return s !== undefined && s.ppid === parent && s.comm === "nats-server";
    });

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

describe.skipIf(!existsSync("/proc/self/stat"))("`tether node start` with the embedded nats-server", () => {
  // Before the fix the server shared the terminal's process group, died of the same Ctrl-C first, and
  // the node's shutdown waited on timeouts (~21 s, "removing node lease failed ... timeout").
  it("stops within seconds on a Ctrl-C to its whole process group, stopping its server last and leaving none behind", async () => {
    const keyDir = mkdtempSync(join(tmpdir(), "tether-keys-"));
    let servers: number[] = [];
    try {
      await using node = new TetherProcess(["node", "start", "--embedded", "--agents", "test/fixtures/agents.ts", "--node-id", "ctrl-c", "--key-dir", keyDir, "--log-level", "warn"], {}, { detached: true });
      const [, port = ""] = (await node.waitFor(/node ctrl-c up on nats:\/\/127\.0\.0\.1:(\d+)/)) as [string, string];
      const pid = node.child.pid as number;
      servers = natsServersStartedBy(pid);
      expect(servers).toHaveLength(1);
      const serverGroup = procStat(servers[0] as number)?.pgrp;

      const startedAt = Date.now();
      process.kill(-pid, "SIGINT"); // what a terminal's Ctrl-C does: the signal to every process of the group
      expect(await node.exited).toBe(0);
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(node.stdout).toMatch(/node ctrl-c stopped/);
      expect(node.stderr).not.toMatch(/removing node lease failed/);
      await eventually(() => servers.every((s) => procStat(s) === undefined), 2_000, "the embedded nats-server to exit");
      expect(await canConnect(Number(port))).toBe(false);
      expect(serverGroup).not.toBe(pid); // its own process group, so the terminal's Ctrl-C never reached it
    } finally {
      for (const s of servers) if (procStat(s) !== undefined) process.kill(s, "SIGKILL");
      rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it("takes its server down with it when it dies of a signal before it handles signals itself", async () => {
    const keyDir = mkdtempSync(join(tmpdir(), "tether-keys-"));
    let servers: number[] = [];
    try {
      // SIGTERM as soon as the server exists: Node.create is still opening streams, the CLI has no signal
      // handler yet, so the process dies of the signal; its detached server must not outlive it.
      await using node = new TetherProcess(["node", "start", "--embedded", "--agents", "test/fixtures/agents.ts", "--node-id", "early", "--key-dir", keyDir], {}, { detached: true });
      await eventually(() => natsServersStartedBy(node.child.pid as number).length === 1, 30_000, "the embedded nats-server");
      servers = natsServersStartedBy(node.child.pid as number);
      node.child.kill("SIGTERM");
      await node.exited;
      await eventually(() => servers.every((s) => procStat(s) === undefined), 5_000, "the embedded nats-server to exit");
    } finally {
      for (const s of servers) if (procStat(s) !== undefined) process.kill(s, "SIGKILL");
      rmSync(keyDir, { recursive: true, force: true });
    }
  });
});
