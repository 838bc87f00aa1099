import { defineConfig } from "vitest/config";

// Integration tests start real nats-server processes; on a 2-core machine two workers keep the
// suite fast without starving the servers. Every test cleans up its servers (await using / finally).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // "default" for people; the summary line ("N passed, N failed") for CI
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
