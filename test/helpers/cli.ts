// The CLI as a user runs it: a child `node` process in a project folder.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sharedBuild } from "./build";
import { REPO_ROOT } from "./spec";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    // The compiled binary, as the package ships it (package.json `bin`).
    const child = spawn(process.execPath, [path.join(sharedBuild(), "infra/cli/bin.js"), ...args], { cwd, env: { ...process.env, PARTMAN_STACK_DATABASE_URL: "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A project folder with the repo's Pulumi.yaml and DDL files, and the given stack files. */
export function projectDir(stacks: Record<string, string>, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-cli-"));
  // As root the local cluster's server runs as `postgres`, which must reach the project folder.
  fs.chmodSync(dir, 0o755);
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  fs.cpSync(path.join(REPO_ROOT, "sql"), path.join(dir, "sql"), { recursive: true });
  fs.mkdirSync(path.join(dir, "stacks"));
  for (const [name, text] of Object.entries(stacks)) fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${name}.yaml`), text);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** An external-mode stack file declaring public.events (daily partitions); used with --database-url. */
export function eventsStack(opts: { jobName: string; retention?: string; ddl?: string; premake?: number }): string {
  return `config:
  partman-stack:database:
    mode: external
    host: 127.0.0.1
    database: unused
    user: postgres
    sslmode: disable
    partmanVersion: "5.2.4"
  partman-stack:maintenance:
    jobName: ${opts.jobName}
  partman-stack:tables:
    - name: public.events
      ddl: ${opts.ddl ?? "sql/tables/events.sql"}
      control: created_at
      interval: 1 day
      premake: ${opts.premake ?? 3}
      retention: ${opts.retention ?? "30 days"}
`;
}
