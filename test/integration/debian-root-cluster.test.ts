// PostgreSQL 18 from the cached Debian testing root (infra/local/debian-root.ts), on a cluster of
// its own: it starts on a free loopback port, is 18.x with pg_partman 5.5.0 and pg_cron 1.6.8, its
// client tools are 18's, and once destroyed it leaves no process, no mount and no folder. In the
// PostgreSQL 18 run only (PARTMAN_STACK_TEST_POSTGRES=18): the PostgreSQL 15 run builds no root.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { destroyCluster, isRunning, readCluster, startCluster } from "../../infra/local/cluster";
import { clientBinDir, MIRROR_ENV, readMarker, rootDir, rootPackageProblem, rootServerUserIds } from "../../infra/local/debian-root";
import { queryRows as query, SERVER_MAJOR } from "../helpers/database";

const mountsOf = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter((l) => l.includes(rootDir()));

/** Running: a zombie (exited, not yet reaped by whichever process adopted it) counts as gone. */
function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0] !== "Z";
  } catch {
    return false;
  }
}

/** pg_ctl stop -w returns once postmaster.pid is gone, a moment before the process itself. */
async function exits(pid: number, withinMs = 10_000): Promise<boolean> {
  for (const until = Date.now() + withinMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (!alive(pid)) return true;
  }
  return false;
}

describe("the Debian testing root's packages", () => {
  it("are kept only when they are the pg_partman release the PostgreSQL 18 tests are written for; otherwise the build fails naming the snapshot mirror to use", () => {
    expect(rootPackageProblem({ "postgresql-18": "18.6-3", "postgresql-18-partman": "5.5.0-1", "postgresql-18-cron": "1.6.8-1" })).toBeNull();
    const moved = rootPackageProblem({ "postgresql-18": "18.7-1", "postgresql-18-partman": "5.6.0-1", "postgresql-18-cron": "1.6.8-1" });
    expect(moved).toMatch(/^Debian testing now ships postgresql-18-partman 5\.6\.0-1, not pg_partman 5\.5\.0, which the PostgreSQL 18 tests are written for: /);
    expect(moved).toContain(`set ${MIRROR_ENV} to a snapshot of Debian`);
  });
});

describe.runIf(SERVER_MAJOR === 18)("a cluster on PostgreSQL 18 from the Debian testing root", () => {
  let parent: string;
  let dir: string;
  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-pg18-"));
    fs.chmodSync(parent, 0o755);
    dir = path.join(parent, "cluster");
  });
  afterAll(async () => {
    await destroyCluster(dir);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  it("starts on a free loopback port with 18.x, pg_partman 5.5.0 and pg_cron 1.6.8; after destroy no process, mount or folder is left", { timeout: 300_000 }, async () => {
    const c = await startCluster(dir, { database: "partman_stack", throwaway: true, server: "debian-testing-18" });
    expect(c.port).not.toBe(5432);
    expect(c.server).toBe("debian-testing-18");
    expect(readCluster(dir)).toEqual(c);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "cluster.json"), "utf8"))).toMatchObject({ server: "debian-testing-18", port: c.port });
    expect(isRunning(dir)).toBe(true);

    const [row] = await query(
      c.url,
      `SELECT current_setting('server_version') AS version, current_setting('listen_addresses') AS listen,
              current_setting('shared_preload_libraries') AS preload, current_setting('unix_socket_directories') AS sockets,
              (SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions WHERE name = 'pg_partman') AS partman,
              (SELECT extversion FROM pg_extension WHERE extname = 'pg_cron') AS cron`,
    );
    expect(row).toEqual({ version: expect.stringMatching(/^18\.\d+ /), listen: "127.0.0.1", preload: "pg_cron", sockets: "", partman: ["5.5.0"], cron: "1.6" });
    expect(readMarker()?.packages).toMatchObject({ "postgresql-18-partman": expect.stringMatching(/^5\.5\.0-/), "postgresql-18-cron": expect.stringMatching(/^1\.6\.8-/) });
    await query(c.url, "CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '5.5.0'");
    // Built into PostgreSQL 18.
    expect(await query(c.url, "SELECT uuid_extract_version(uuidv7()) AS v")).toEqual([{ v: 7 }]);

    // The folder belongs to the root's postgres user; the server runs in a mount namespace of its
    // own, its binds invisible here.
    expect([fs.statSync(path.join(dir, "data")).uid, fs.statSync(path.join(dir, "data")).gid]).toEqual(rootServerUserIds());
    const pid = Number(fs.readFileSync(path.join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    expect(alive(pid)).toBe(true);
    // (Chrooted, it sees its mounts at their paths inside the root, which are the host's.)
    const its = fs.readFileSync(`/proc/${pid}/mounts`, "utf8").split("\n").map((l) => l.split(" ")[1]);
    expect(its).toEqual(expect.arrayContaining(["/proc", "/dev/shm", dir]));
    expect(mountsOf("/proc/self/mounts")).toEqual([]);

    // Its client tools are 18's, run from the host on host files.
    for (const tool of ["pg_dump", "pg_restore", "psql"]) {
      expect(execFileSync(path.join(clientBinDir(), tool), ["--version"]).toString()).toMatch(new RegExp(`^${tool} \\(PostgreSQL\\) 18\\.`));
    }

    await destroyCluster(dir);
    expect(await exits(pid)).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(`${rootDir()}${dir}`)).toBe(false);
    expect(mountsOf("/proc/mounts")).toEqual([]);
    expect(execFileSync("ps", ["-eo", "args"]).toString()).not.toContain(dir);
  });
});
