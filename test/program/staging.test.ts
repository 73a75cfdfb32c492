// `pulumi up -s staging` (mocks): staging's own retention and premake reach the table resources.

import { beforeAll, describe, expect, it } from "vitest";
import { runProgram, TYPES, type ProgramRun } from "../helpers/pulumi-program";

describe("the staging stack's resources", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram("staging", { "partman-stack:databasePassword": "staging-secret" });
  });

  it("carries staging's retention and premake, and no archive schema", () => {
    expect(run.byType(TYPES.table).map((t) => [t.inputs.name, t.inputs.interval, t.inputs.premake, t.inputs.retention])).toEqual([
      ["public.events", "1 day", 7, "30 days"],
      ["public.audit_log", "1 month", 3, "90 days"],
    ]);
    expect(run.byType(TYPES.schema).map((s) => s.inputs.name)).toEqual(["partman"]);
    expect(run.byType(TYPES.container)).toEqual([]);
  });
});
