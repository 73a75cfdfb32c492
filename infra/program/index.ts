// The Pulumi program (Pulumi.yaml `main`). Today it validates the stack's declaration with the
// same validator as the CLI, so `pulumi preview` fails on the same bad input, and exports what
// each table is declared with; the resources that provision and reconcile come with the
// Pulumi program issue.

import * as pulumi from "@pulumi/pulumi";
import { findProjectRoot } from "../config/stack-file";
import { validateStack } from "../config/validate";

const config = new pulumi.Config("partman-stack");
const spec = validateStack(pulumi.getStack(), findProjectRoot(__dirname), {
  tables: config.getObject("tables"),
  maintenance: config.getObject("maintenance"),
  database: config.getObject("database"),
});

export const tables = Object.fromEntries(
  spec.tables.map((t) => [t.name, { interval: t.interval.text, premake: t.premake, retention: t.retention?.text ?? null }]),
);
export const maintenance = { schedule: spec.maintenance.schedule, jobName: spec.maintenance.jobName };
