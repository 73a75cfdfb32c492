// The Pulumi program (Pulumi.yaml `main`), a thin user of the PartmanDatabase component. Validates
// the stack's whole declaration with the CLI's validator first, so `pulumi preview` lists every
// problem the CLI would before anything runs, then declares the stack's resources (stack.ts).

import * as pulumi from "@pulumi/pulumi";
import { findProjectRoot } from "../config/stack-file";
import { validateStack } from "../config/validate";
import { buildStack } from "./stack";

const config = new pulumi.Config("partman-stack");
const raw = {
  tables: config.getObject("tables"),
  maintenance: config.getObject("maintenance"),
  database: config.getObject("database"),
  roles: config.getObject("roles"),
};
const spec = validateStack(pulumi.getStack(), findProjectRoot(__dirname), raw);
const stack = buildStack(spec, raw, config.getSecret("databasePassword"));

/** Host, port, database, admin user and password (secret). */
export const connection = stack.connection;
export const roles = stack.roles;
/** Per table: interval, premake, retention and retention schema, as applied. */
export const tables = stack.tables;
/** The pg_cron job's id, schedule and the database it lives in. */
export const maintenance = stack.maintenance;
