// The real Pulumi CLI (toolchain/pulumi/build.sh links it into .partman/pulumi/bin), run as a user
// types it, in a workspace of the test's own: a file backend, a PULUMI_HOME, a passphrase, and no
// plugin downloads, so nothing reaches the network and nothing outlives the test.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./spec";

export const PULUMI_BIN = path.join(REPO_ROOT, ".partman", "pulumi", "bin");

export interface PulumiRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PulumiWorkspace {
  /** The workspace's own folder, removed with it. */
  dir: string;
  /** The folder of the file backend's state. */
  state: string;
  run(args: string[]): Promise<PulumiRun>;
  remove(): void;
}

export function pulumiWorkspace(programDir: string): PulumiWorkspace {
  const pulumi = path.join(PULUMI_BIN, "pulumi");
  if (!fs.existsSync(pulumi)) throw new Error(`no Pulumi CLI in ${PULUMI_BIN}: run \`bash toolchain/pulumi/build.sh\` (npm test runs it first)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-pulumi-"));
  const state = path.join(dir, "state");
  fs.mkdirSync(state);
  const env = {
    ...process.env,
    PATH: `${PULUMI_BIN}:${process.env.PATH}`,
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: "partman-stack test passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    NO_COLOR: "1",
  };
  return {
    dir,
    state,
    run: (args) =>
      new Promise((resolve) => {
        execFile(pulumi, [...args, "--non-interactive"], { cwd: programDir, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
        });
      }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
