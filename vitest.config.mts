import path from "node:path";
import { defineConfig } from "vitest/config";

// Vite defines __dirname when it loads this file.
const ROOT = __dirname;

export default defineConfig({
  // The examples import the package by name, as its users do (tsconfig.json `paths` for tsc).
  resolve: {
    alias: [
      { find: /^partman-stack$/, replacement: path.join(ROOT, "infra/index.ts") },
      { find: /^partman-stack\/pulumi$/, replacement: path.join(ROOT, "infra/pulumi.ts") },
      { find: /^partman-stack\/testing$/, replacement: path.join(ROOT, "infra/testing.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup.ts"],
    // Real-database tests: pg_cron's finest schedule is one minute, and a fresh machine installs
    // PostgreSQL in the global setup.
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Two cores; each file works in databases of its own on the one throwaway cluster.
    maxWorkers: 2,
  },
});
