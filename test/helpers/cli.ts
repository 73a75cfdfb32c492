// The CLI as a user runs it: a child `node` process in a project folder.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sharedBuild } from "./build";
import { availablePartman } from "./database";
import { REPO_ROOT } from "./spec";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user's shell runs it: `sh -c` around the binary, in a process group of its own, so
 *  a test can kill the whole group (the shell and its node child, as `npx` or a wrapper leaves
 *  children that outlive it) and wait for a line on stderr. */
export interface CliProcess {
  pid: number;
  /** Resolves with the first stderr line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** SIGKILL to every process of its group. */
  killGroup(): void;
  done: Promise<CliRun>;
}

export function startCli(cwd: string, args: string[], env: Record<string, string> = {}): CliProcess {
  // Not the last command of the script, so the shell forks node rather than becoming it.
  const child = spawn("sh", ["-c", `"$0" "$@"; exit $?`, process.execPath, path.join(sharedBuild(), "infra/cli/bin.js"), ...args], {
    cwd,
    env: { ...process.env, PARTMAN_STACK_DATABASE_URL: "", ...env },
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const line = stderr.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    check();
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`exited (${code ?? signal}) before ${w.pattern}:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    pid: child.pid!,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve, reject });
        check();
      }),
    killGroup: () => process.kill(-child.pid!, "SIGKILL"),
    done,
  };
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
export function eventsStack(opts: { jobName: string; retention?: string; ddl?: string; premake?: number; partmanVersion?: string }): string {
  return `config:
  partman-stack:database:
    mode: external
    host: 127.0.0.1
    database: unused
    user: postgres
    sslmode: disable
    partmanVersion: "${opts.partmanVersion ?? availablePartman("5.2.4")}"
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
