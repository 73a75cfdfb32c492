// The program's safety options and errors, called directly: Pulumi's mocks never see resource
// options, and a missing password must fail before any resource is declared.

import { describe, expect, it } from "vitest";
import { dataSchemaOptions, dataVolumeOptions, tableOptions } from "../../infra/program/options";
import { target } from "../../infra/program/target";
import { loadStack } from "../../infra/config/stack-file";
import { REPO_ROOT } from "../helpers/spec";

describe("program options", () => {
  it("protects partitioned tables and retains them on delete", () => {
    expect(tableOptions([])).toMatchObject({ protect: true, retainOnDelete: true });
  });

  it("retains the dev container's data volume, and schemas holding tables, on delete", () => {
    expect(dataVolumeOptions()).toEqual({ retainOnDelete: true });
    expect(dataSchemaOptions()).toEqual({ retainOnDelete: true });
  });

  it("refuses an external stack without a databasePassword secret, saying how to set it", () => {
    expect(() => target(loadStack(REPO_ROOT, "prod"), undefined)).toThrow(
      "stack \"prod\" connects to prod-db.internal.example.com as platform_admin, but has no password: run `pulumi config set --secret partman-stack:databasePassword <password> -s prod`",
    );
  });
});
