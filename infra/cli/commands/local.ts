import { findProjectRoot } from "../../config/stack-file";
import { localClusterDir, readCluster, startCluster, stopCluster, type ClusterInfo } from "../../local/cluster";

export type LocalAction = "start" | "stop" | "url";

/** The embedded cluster's database: the local stack's default `database.database`. */
const LOCAL_DATABASE = "partman_stack";

export async function localCommand(action: LocalAction, opts: { root?: string; log?: (line: string) => void }): Promise<ClusterInfo | null> {
  const dir = localClusterDir(opts.root ?? findProjectRoot());
  switch (action) {
    case "start":
      return startCluster(dir, { database: LOCAL_DATABASE, log: opts.log });
    case "stop":
      await stopCluster(dir);
      return readCluster(dir);
    case "url": {
      const info = readCluster(dir);
      if (!info) throw new Error(`no local cluster in ${dir}: run \`npx partman-stack local start\``);
      return info;
    }
  }
}

/** Exit codes: 0 done, 1 error. `url` prints only the URL, for `psql "$(npx partman-stack local url)"`. */
export async function localHandler(action: LocalAction, opts: { log?: (line: string) => void }): Promise<number> {
  const info = await localCommand(action, opts);
  if (action === "url") process.stdout.write(`${info!.url}\n`);
  else if (action === "start") process.stdout.write(`local cluster running: ${info!.url}\n`);
  else process.stdout.write("local cluster stopped\n");
  return 0;
}
