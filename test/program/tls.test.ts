// The prod stack with its server's CA certificate declared (sslRootCert) and sslmode require
// (mocks): every provider is given the same libpq mode and the file's absolute path, decided once
// (db/connection.ts): the dynamic providers' connection inputs and @pulumi/postgresql's provider.

import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, stackConfig, TYPES, type ProgramRun } from "../helpers/pulumi-program";
import { REPO_ROOT } from "../helpers/spec";

describe("the prod stack with sslRootCert", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    const database = { ...JSON.parse(stackConfig("prod")["partman-stack:database"]), sslmode: "require", sslRootCert: "certs/prod-ca.pem" };
    run = await runProgram("prod", { "partman-stack:databasePassword": "prod-secret" }, { "partman-stack:database": JSON.stringify(database) });
  });

  it("hands the root certificate's absolute path to every provider, and require with it is verify-ca for @pulumi/postgresql as for libpq", () => {
    const ca = path.join(REPO_ROOT, "certs/prod-ca.pem");
    const connection = { host: "prod-db.internal.example.com", sslmode: "require", sslRootCert: ca };
    for (const r of [run.one(TYPES.preflight), ...run.byType(TYPES.table), run.one(TYPES.job)]) expect(r.inputs.connection).toMatchObject(connection);
    expect(run.one(TYPES.pgProvider).inputs).toMatchObject({ host: "prod-db.internal.example.com", sslmode: "verify-ca", sslrootcert: ca });
  });
});
