// The program's safety options and errors, called directly: Pulumi's mocks never see resource
// options, and a missing password must fail before any resource is declared.

import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { children } from "../../infra/component/children";
import { dataSchemaOptions, dataVolumeOptions, tableOptions } from "../../infra/component/options";
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

  it("names a PartmanDatabase's children after it, and adopts the old program's top-level resources only when asked", () => {
    const parent = {} as pulumi.ComponentResource;
    const plain = children(parent, "orders-db", false);
    expect(plain.name("owner-role")).toBe("orders-db-owner-role");
    expect(plain.options("owner-role")).toEqual({ parent });
    const adopting = children(parent, "partman", true);
    expect(adopting.options("owner-role")).toEqual({ parent, aliases: [{ name: "owner-role", parent: pulumi.rootStackResource }] });
  });

  it("refuses an external stack without a databasePassword secret, saying how to set it", () => {
    expect(() => target(loadStack(REPO_ROOT, "prod"), undefined)).toThrow(
      "stack \"prod\" connects to prod-db.internal.example.com as platform_admin, but has no password: run `pulumi config set --secret partman-stack:databasePassword <password> -s prod`",
    );
  });
});
