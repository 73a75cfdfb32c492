import path from "node:path";
import { findProjectRoot } from "../../config/stack-file";
import { hasCluster, isRunning, localClusterDir, passwordFile, readCluster, startCluster, stopCluster, type ClusterInfo } from "../../local/cluster";
import { PartmanStackError } from "../../config/errors";

export type LocalAction = "start" | "stop" | "url" | "status";

/** The embedded cluster's database: the local stack's default `database.database`. */
const LOCAL_DATABASE = "partman_stack";

export interface LocalState {
  /** The cluster's folder (localClusterDir): its data in data/, cluster.json, postgres.log. */
  dir: string;
  /** Whether initdb has run there. */
  created: boolean;
  running: boolean;
  /** Port, database and URL of its last start; null before the first. */
  cluster: ClusterInfo | null;
}

export async function localCommand(action: LocalAction, opts: { root?: string; log?: (line: string) => void }): Promise<LocalState> {
  const dir = localClusterDir(opts.root ?? findProjectRoot());
  switch (action) {
    case "start":
      await startCluster(dir, { database: LOCAL_DATABASE, log: opts.log });
      break;
    case "stop":
      await stopCluster(dir);
      break;
    case "url": {
      const state = localState(dir);
      if (!state.created || !state.cluster) throw new PartmanStackError(`no local cluster in ${dir}`, `run \`npx partman-stack local start\``);
      if (!state.running) throw new PartmanStackError(`the local cluster in ${dir} is stopped`, `run \`npx partman-stack local start\``);
      return state;
    }
    case "status":
      break;
  }
  return localState(dir);
}

function localState(dir: string): LocalState {
  return { dir, created: hasCluster(dir), running: isRunning(dir), cluster: readCluster(dir) };
}

/** Exit codes: 0 done (status: running), 3 status: stopped or not created yet, 1 error (url: the
 *  cluster is not running). `url` prints only the URL, with the password, for
 *  `psql "$(npx partman-stack local url)"`; start and status show it without. */
export async function localHandler(action: LocalAction, opts: { log?: (line: string) => void }): Promise<number> {
  const state = await localCommand(action, opts);
  switch (action) {
    case "url":
      process.stdout.write(`${state.cluster!.url}\n`);
      return 0;
    case "start":
      process.stdout.write(`local cluster running: ${withoutPassword(state.cluster!.url)} (\`npx partman-stack local url\` prints it with the password)\n`);
      return 0;
    case "stop":
      process.stdout.write(state.created ? `local cluster stopped (its data stays in ${state.dir})\n` : `no local cluster in ${state.dir}: nothing to stop\n`);
      return 0;
    case "status":
      process.stdout.write(statusText(state));
      return state.running ? 0 : 3;
  }
}

function statusText(s: LocalState): string {
  const state = s.running ? "running" : s.created ? "stopped: `npx partman-stack local start` starts it" : "not created yet: `npx partman-stack local start` (or `apply --stack local`) creates it";
  const lines = [["state", state], ["folder", s.dir]];
  if (s.cluster) lines.push(["port", String(s.cluster.port)], ["database", s.cluster.database], ["url", withoutPassword(s.cluster.url)]);
  if (s.created) lines.push(["password", `${passwordFile(s.dir)} (\`local url\` prints the URL with it)`]);
  if (s.created) lines.push(["log", path.join(s.dir, "postgres.log")]);
  return `${lines.map(([k, v]) => `${`${k}:`.padEnd(10)}${v}`).join("\n")}\n`;
}

/** Output that ends up in terminals' scrollback and CI logs carries no password. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = "";
  return u.toString();
}
