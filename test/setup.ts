// In every test file's process: PGPASSWORD for the test cluster (its superuser's password, given
// to the roles tests log in as too), read by node-postgres, libpq (pg_dump, psql) and the CLI's
// child processes when a URL or stack file names no password. PARTMAN_STACK_PG_BIN and the front of
// PATH: pg_dump, pg_restore and psql of the server's major when the host's are older (PostgreSQL
// 18), for the CLI's archive and for archivePartitions called without pgBin.

import { inject } from "vitest";
import { PG_BIN_ENV } from "../infra/cli/commands/archive";
import { clusterPassword } from "./helpers/database";

process.env.PGPASSWORD = clusterPassword();
const pgBin = inject("pgBinEnv");
if (pgBin) {
  process.env[PG_BIN_ENV] = pgBin;
  process.env.PATH = `${pgBin}:${process.env.PATH}`;
}
