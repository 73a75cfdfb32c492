// Runs the real Pulumi program under pulumi.runtime.setMocks with a real stack file loaded into
// config, as the Pulumi CLI would (under mocks neither stack files nor Pulumi.yaml defaults apply).
// The SDK keeps state on `global`: one program run per test file.

import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { REPO_ROOT } from "./spec";

export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

export interface ProgramRun {
  resources: MockResource[];
  outputs: Record<string, unknown>;
  byType(type: string): MockResource[];
  one(type: string, name?: string): MockResource;
  isSecret(path: string[]): Promise<boolean>;
}

export function stackConfig(stack: string): Record<string, string> {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** `config` replaces keys of the stack file's (values as the Pulumi CLI passes them: JSON for objects). */
export async function runProgram(stack: string, secrets: Record<string, string> = {}, config: Record<string, string> = {}): Promise<ProgramRun> {
  const resources: MockResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = `mock-${args.name}`;
        if (args.type === "docker:index/image:Image") state.repoDigest = `${args.inputs.imageName}@sha256:mock`;
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "partman-stack",
    stack,
    false,
  );
  pulumi.runtime.setAllConfig({ ...stackConfig(stack), ...config, ...secrets }, Object.keys(secrets));
  const exported = (await import("../../infra/program/index")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const key of ["connection", "roles", "tables", "maintenance"]) {
    outputs[key] = await new Promise((resolve) => (pulumi.output(exported[key]) as pulumi.Output<unknown>).apply(resolve));
  }
  return {
    resources,
    outputs,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
      if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
      return found[0];
    },
    isSecret(p) {
      let v: any = exported;
      for (const k of p) v = v[k];
      return (pulumi.output(v) as any).isSecret as Promise<boolean>;
    },
  };
}

export const TYPES = {
  table: "pulumi-nodejs:dynamic/partman:PartitionedTable",
  job: "pulumi-nodejs:dynamic/partman:MaintenanceJob",
  preflight: "pulumi-nodejs:dynamic/partman:ServerPreflight",
  container: "docker:index/container:Container",
  image: "docker:index/image:Image",
  volume: "docker:index/volume:Volume",
  extension: "postgresql:index/extension:Extension",
  schema: "postgresql:index/schema:Schema",
  role: "postgresql:index/role:Role",
  grant: "postgresql:index/grant:Grant",
  grantRole: "postgresql:index/grantRole:GrantRole",
  defaultPrivileges: "postgresql:index/defaultPrivileges:DefaultPrivileges",
  pgProvider: "pulumi:providers:postgresql",
} as const;
