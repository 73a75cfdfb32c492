import { defineConfig } from "vitest/config";
import base from "./vitest.config.mts";

// The PostgreSQL 18 core: apply, plan, verify, the scheduled job's command under live traffic,
// migrate, archive and the Pulumi lifecycle, against PostgreSQL 18 with pg_partman 5.5.0 and
// pg_cron 1.6.8 from a cached Debian testing root (infra/local/debian-root.ts). Run with
// PARTMAN_STACK_TEST_POSTGRES=18 (test/global-setup.ts), after the PostgreSQL 15 run (npm test).
export const PG18_CORE = [
  "test/integration/engine.test.ts",
  "test/integration/cli.test.ts",
  "test/integration/verify.test.ts",
  "test/integration/live-traffic.test.ts",
  "test/integration/cron-job.test.ts",
  "test/integration/migrate-engine.test.ts",
  "test/integration/migrate-cli.test.ts",
  "test/integration/archive.test.ts",
  "test/integration/uuidv7.test.ts",
  "test/integration/subpartition.test.ts",
  "test/integration/list.test.ts",
  "test/integration/id-range.test.ts",
  "test/integration/epoch.test.ts",
  "test/integration/campaign-participants.test.ts",
  "test/integration/maintenance-failures.test.ts",
  "test/integration/text-key.test.ts",
  "test/integration/debian-root-cluster.test.ts",
  "test/real-engine/lifecycle.test.ts",
];

export default defineConfig({ ...base, test: { ...base.test, include: PG18_CORE } });
