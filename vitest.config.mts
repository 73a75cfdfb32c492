import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Real-database tests: pg_cron's finest schedule is one minute, and a fresh machine installs
    // PostgreSQL in the global setup.
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Two cores; each file works in databases of its own on the one throwaway cluster.
    maxWorkers: 2,
  },
});
