// In every test file's process: PGPASSWORD for the test cluster (its superuser's password, given
// to the roles tests log in as too), read by node-postgres, libpq (pg_dump, psql) and the CLI's
// child processes when a URL or stack file names no password.

import { clusterPassword } from "./helpers/database";

process.env.PGPASSWORD = clusterPassword();
