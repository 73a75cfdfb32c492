// Where a stack's database is, as Pulumi values: a container this program provisions (docker), an
// existing server (external), or the embedded local cluster (local).

import path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { StackSpec } from "../config/types";
import { localClusterDir, readCluster, readPassword } from "../local/cluster";
import type { ConnectionInputs } from "../providers/connection";
import { dataVolumeOptions } from "../component/options";
import { PartmanStackError } from "../config/errors";

export interface Target {
  connection: pulumi.Output<ConnectionInputs>;
  /** Secret. */
  password: pulumi.Output<string>;
  cronDatabase: string;
  /** The container, when this program provisions the server. */
  server: pulumi.Resource[];
}

/** The image the Dockerfile builds; its tag names the extension versions it holds. */
export const IMAGE_NAME = "partman-stack/postgres:18.6-partman5.5.0-cron1.6.8";
/** The image's PostgreSQL major: a data volume holds one major's files, so it is named for it
 *  (an older major's volume stays, retained, for pg_upgrade), and from 18 on the image keeps its
 *  data in /var/lib/postgresql/<major>/docker, below the volume mounted at /var/lib/postgresql. */
const IMAGE_PG_MAJOR = 18;

export function target(spec: StackSpec, databasePassword: pulumi.Output<string> | undefined): Target {
  const db = spec.database;
  switch (db.mode) {
    case "external": {
      if (!databasePassword) {
        throw new PartmanStackError(
          `stack "${spec.stack}" connects to ${db.host} as ${db.user}, but has no password`,
          `run \`pulumi config set --secret partman-stack:databasePassword <password> -s ${spec.stack}\``,
        );
      }
      return {
        connection: pulumi.output({ host: db.host, port: db.port, database: db.database, user: db.user, sslmode: db.sslmode, ...(db.sslRootCert ? { sslRootCert: db.sslRootCert } : {}) }),
        password: pulumi.secret(databasePassword),
        cronDatabase: db.cronDatabase,
        server: [],
      };
    }
    case "local": {
      const dir = localClusterDir(spec.root);
      const cluster = readCluster(dir);
      if (!cluster) throw new PartmanStackError(`stack "${spec.stack}" uses the local cluster, which has not been started`, `run \`npx partman-stack local start\``);
      return {
        connection: pulumi.output({ host: "127.0.0.1", port: cluster.port, database: db.database, user: "postgres", sslmode: "disable" as const }),
        password: pulumi.secret(readPassword(dir) ?? ""),
        cronDatabase: cluster.cronDatabase,
        server: [],
      };
    }
    case "docker":
      return container(spec, db.database, db.port);
  }
}

function container(spec: StackSpec, database: string, port: number): Target {
  const password = new random.RandomPassword("postgres-password", { length: 32, special: false });
  const image = new docker.Image("postgres-image", {
    imageName: IMAGE_NAME,
    build: { context: path.join(spec.root, "infra/docker"), platform: "linux/amd64" },
    skipPush: true,
  });
  const volume = new docker.Volume("postgres-data", { name: `partman-stack-${spec.stack}-pgdata-${IMAGE_PG_MAJOR}` }, dataVolumeOptions());
  const server = new docker.Container("postgres", {
    name: `partman-stack-${spec.stack}-postgres`,
    image: image.imageName,
    envs: [pulumi.interpolate`POSTGRES_PASSWORD=${password.result}`, `POSTGRES_DB=${database}`],
    command: ["postgres", "-c", "shared_preload_libraries=pg_cron", "-c", `cron.database_name=${database}`, "-c", "timezone=UTC"],
    ports: [{ internal: 5432, external: port, ip: "127.0.0.1" }],
    volumes: [{ volumeName: volume.name, containerPath: "/var/lib/postgresql" }],
    healthcheck: { tests: ["CMD-SHELL", `pg_isready -U postgres -d ${database}`], interval: "5s", timeout: "5s", retries: 12, startPeriod: "10s" },
    wait: true,
    waitTimeout: 180,
    restart: "unless-stopped",
  });
  return {
    // From the container's outputs, so everything that connects waits for a healthy container.
    connection: server.ports.apply((ports) => ({
      host: "127.0.0.1",
      port: ports?.[0]?.external ?? port,
      database,
      user: "postgres",
      sslmode: "disable" as const,
    })),
    password: pulumi.secret(password.result),
    cronDatabase: database,
    server: [server],
  };
}
