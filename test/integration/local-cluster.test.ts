// The embedded cluster's lifecycle, on clusters of their own (not the tests' shared one): idempotent
// start, the settings pg_cron and pg_partman need, data that survives stop/start, and removal; a
// password asked of every connection, and a cluster made with trust upgraded on its next start;
// where its folder is (a clone in an open folder, in a 0700 home as root, an existing cluster, the
// environment variable), and `local start/url/status/stop` as the CLI runs them.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { localCommand, localHandler } from "../../infra/cli/commands/local";
import { destroyCluster, isRunning, LOCAL_DIR_ENV, localClusterDir, passwordFile, readCluster, startCluster, stopCluster, SYSTEM_CLUSTERS_DIR } from "../../infra/local/cluster";
import { PG_BIN } from "../../infra/local/install";
import { sharedBuild } from "../helpers/build";
import { queryRows as query } from "../helpers/database";
import { REPO_ROOT } from "../helpers/spec";


const passwordOf = (dir: string) => fs.readFileSync(passwordFile(dir), "utf8").trim();
const urlOf = (dir: string, port: number, database: string) => `postgres://postgres:${encodeURIComponent(passwordOf(dir))}@127.0.0.1:${port}/${database}`;
/** The URL as start and status show it. */
const shownUrl = (url: string) => url.replace(/:[^:@/]+@/, "@");

/** psql as another local user would run it: no password given, none in a file. */
function psqlWithoutPassword(port: number): { code: number; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PGPASSFILE: "/dev/null" };
  delete env.PGPASSWORD;
  try {
    execFileSync(path.join(PG_BIN, "psql"), ["-w", "-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"], { env, stdio: ["ignore", "pipe", "pipe"] });
    return { code: 0, stderr: "" };
  } catch (err) {
    const e = err as { status: number; stderr: Buffer };
    return { code: e.status, stderr: e.stderr.toString() };
  }
}

/** Every way into the cluster at `port` asks for the password. */
async function expectPasswordRequired(port: number): Promise<void> {
  expect(psqlWithoutPassword(port)).toEqual({ code: 2, stderr: expect.stringContaining("fe_sendauth: no password supplied") });
  await expect(query(`postgres://postgres:wrong@127.0.0.1:${port}/postgres`, "SELECT 1")).rejects.toThrow('password authentication failed for user "postgres"');
}

/** A project folder (a clone) at `dir`. */
function clone(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  return dir;
}

/** Runs the CLI's handler for `local <action>`, returning its exit code and what it printed. */
async function handle(action: "url" | "status", root: string): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const cwd = vi.spyOn(process, "cwd").mockReturnValue(root);
  try {
    return { code: await localHandler(action, {}), stdout };
  } finally {
    write.mockRestore();
    cwd.mockRestore();
  }
}

// Folders are made in beforeAll, not while collecting: a run that selects none of a suite's tests
// runs none of its afterAll.
describe("the local cluster", () => {
  let parent: string;
  let dir: string;
  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-local-"));
    fs.chmodSync(parent, 0o755);
    dir = path.join(parent, ".partman", "local");
  });
  afterAll(async () => {
    await destroyCluster(dir);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  it("lives in the clone's .partman/local when the clone is open to other users, as for a normal user", () => {
    expect(localClusterDir(parent)).toBe(dir);
  });

  it("starts once, reports the same cluster when started again, and keeps data across stop and start", { timeout: 120_000 }, async () => {
    const first = await startCluster(dir, { database: "partman_stack" });
    expect(first).toMatchObject({ dir, database: "partman_stack", cronDatabase: "partman_stack" });
    expect(first.url).toBe(urlOf(dir, first.port, "partman_stack"));
    expect(readCluster(dir)).toEqual(first);
    expect(isRunning(dir)).toBe(true);

    const settings = await query(
      first.url,
      `SELECT current_setting('shared_preload_libraries') AS preload, current_setting('cron.database_name') AS cron_db,
              current_setting('TimeZone') AS tz, current_setting('listen_addresses') AS listen, current_setting('fsync') AS fsync,
              (SELECT extversion FROM pg_extension WHERE extname = 'pg_cron') AS cron,
              (SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions WHERE name = 'pg_partman' AND version IN ('4.7.2', '5.2.4', '5.5.0')) AS partman`,
    );
    expect(settings[0]).toEqual({ preload: "pg_cron", cron_db: "partman_stack", tz: "UTC", listen: "127.0.0.1", fsync: "on", cron: expect.stringMatching(/^1\.4/), partman: ["4.7.2", "5.2.4", "5.5.0"] });
    await query(first.url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");

    const again = await startCluster(dir, { database: "partman_stack" });
    expect(again).toEqual(first);

    await stopCluster(dir);
    expect(isRunning(dir)).toBe(false);
    const restarted = await startCluster(dir, { database: "partman_stack" });
    expect(await query(restarted.url, "SELECT x FROM kept")).toEqual([{ x: 42 }]);

    await expect(startCluster(dir, { database: "partman_stack", cronDatabase: "postgres" })).rejects.toThrow(
      /keeps pg_cron in database partman_stack, not postgres; remove .* to start afresh/,
    );

    await destroyCluster(dir);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("asks every connection for the superuser's password, kept 0600 in the folder and in no other file of it; pg_hba.conf trusts no one", { timeout: 120_000 }, async () => {
    const c = await startCluster(dir, { database: "partman_stack" });
    await expectPasswordRequired(c.port);
    expect(await query(c.url, "SELECT current_user AS u")).toEqual([{ u: "postgres" }]);
    const file = fs.statSync(passwordFile(dir));
    expect([file.mode & 0o777, file.uid]).toEqual([0o600, process.getuid!()]);
    expect(passwordOf(dir)).toMatch(/^[\w-]{32}$/);
    expect(fs.readFileSync(path.join(dir, "cluster.json"), "utf8")).not.toContain(passwordOf(dir));
    expect(fs.existsSync(path.join(dir, "initdb-password"))).toBe(false);
    const hba = fs.readFileSync(path.join(dir, "data", "pg_hba.conf"), "utf8");
    expect(hba.split("\n").filter((l) => l.trim() && !l.startsWith("#"))).toEqual(["host all all 127.0.0.1/32 scram-sha-256"]);
    expect(await query(c.url, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'postgres'")).toEqual([{ scram: true }]);
    await destroyCluster(dir);
  });

  it("upgrades a cluster made with trust (before passwords) on its next start: a password set, pg_hba.conf rewritten, its data kept", { timeout: 120_000 }, async () => {
    const made = await startCluster(dir, { database: "partman_stack" });
    // Back to what initdb --auth=trust made: every connection trusted, no password, no password file.
    await query(made.url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
    fs.writeFileSync(path.join(dir, "data", "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n");
    await query(made.url, "SELECT pg_reload_conf()");
    const trusted = `postgres://postgres@127.0.0.1:${made.port}/partman_stack`;
    await expect.poll(() => query(trusted, "ALTER ROLE postgres PASSWORD NULL").then(() => true, () => false)).toBe(true);
    fs.rmSync(passwordFile(dir));
    await stopCluster(dir);
    expect(readCluster(dir)?.url).toBe(`postgres://postgres@127.0.0.1:${made.port}/partman_stack`);

    const log: string[] = [];
    const upgraded = await startCluster(dir, { database: "partman_stack", log: (l) => log.push(l) });
    expect(log.some((l) => l.includes(`setting a password on the local cluster in ${dir} (it trusted every local user)`))).toBe(true);
    expect(upgraded.url).toBe(urlOf(dir, upgraded.port, "partman_stack"));
    expect(fs.statSync(passwordFile(dir)).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, "data", "pg_hba.conf"), "utf8")).not.toMatch(/trust\s*$/m);
    await expectPasswordRequired(upgraded.port);
    expect(await query(upgraded.url, "SELECT x FROM kept")).toEqual([{ x: 7 }]);
    expect(readCluster(dir)).toEqual(upgraded);

    // And stays so across a restart.
    await stopCluster(dir);
    const again = await startCluster(dir, { database: "partman_stack" });
    expect(again.url).toBe(upgraded.url);
    await expectPasswordRequired(again.port);
    await destroyCluster(dir);
  });
});

describe("where the local stack's cluster lives", () => {
  let home: string;
  let hadSystemDir: boolean;
  const made: string[] = [];
  beforeAll(() => {
    // Like /root: a home only its owner (root) may enter, so `postgres` cannot reach a clone in it.
    home = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-home-"));
    fs.chmodSync(home, 0o700);
    hadSystemDir = fs.existsSync(SYSTEM_CLUSTERS_DIR);
  });
  afterAll(async () => {
    for (const d of made) await destroyCluster(d);
    fs.rmSync(home, { recursive: true, force: true });
    if (!hadSystemDir && fs.existsSync(SYSTEM_CLUSTERS_DIR) && fs.readdirSync(SYSTEM_CLUSTERS_DIR).length === 0) fs.rmdirSync(SYSTEM_CLUSTERS_DIR);
  });

  it("as root with the clone in a 0700 home: under /var/lib/partman-stack, where postgres reaches it; start, url, status, stop find it", { timeout: 120_000 }, async (ctx) => {
    ctx.skip(process.getuid?.() !== 0, "only root runs the server as another user (postgres)");
    const project = clone(path.join(home, "partman-stack"));
    const dir = localClusterDir(project);
    made.push(dir);
    expect(path.dirname(dir)).toBe(SYSTEM_CLUSTERS_DIR);
    expect(path.basename(dir)).toMatch(/^partman-stack-[0-9a-f]{8}$/);

    const started = await localCommand("start", { root: project });
    expect(started).toMatchObject({ dir, created: true, running: true, cluster: { dir, database: "partman_stack" } });
    expect(dir.startsWith(home)).toBe(false);
    const data = fs.statSync(path.join(dir, "data"));
    expect([data.uid, data.mode & 0o777]).toEqual([Number(execFileSync("id", ["-u", "postgres"]).toString()), 0o700]);
    expect(() => execFileSync("runuser", ["-u", "postgres", "--", "test", "-w", path.join(dir, "data")])).not.toThrow();
    expect(await query(started.cluster!.url, "SELECT current_database() AS db")).toEqual([{ db: "partman_stack" }]);
    // Nothing was written into the clone: postgres could not have reached it.
    expect(fs.existsSync(path.join(project, ".partman"))).toBe(false);
    // Every caller resolves the same folder, now that it holds the cluster.
    expect(localClusterDir(project)).toBe(dir);

    // The password file is root's (it runs partman-stack), not the server's: postgres, owning the folder, needs none.
    expect([fs.statSync(passwordFile(dir)).uid, fs.statSync(passwordFile(dir)).mode & 0o777]).toEqual([0, 0o600]);
    expect(started.cluster!.url).toBe(urlOf(dir, started.cluster!.port, "partman_stack"));
    await expectPasswordRequired(started.cluster!.port);

    expect(await handle("url", project)).toEqual({ code: 0, stdout: `${started.cluster!.url}\n` });
    const status = await handle("status", project);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("state:    running\n");
    expect(status.stdout).toContain(`folder:   ${dir}\n`);
    expect(status.stdout).toContain(`port:     ${started.cluster!.port}\n`);
    expect(status.stdout).toContain(`url:      ${shownUrl(started.cluster!.url)}\n`);
    expect(status.stdout).toContain(`password: ${passwordFile(dir)} (\`local url\` prints the URL with it)\n`);
    expect(status.stdout).not.toContain(passwordOf(dir));

    expect(await localCommand("stop", { root: project })).toMatchObject({ dir, created: true, running: false });
    await expect(localCommand("url", { root: project })).rejects.toThrow(`the local cluster in ${dir} is stopped: run \`npx partman-stack local start\``);
    const stopped = await handle("status", project);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toMatch(/^state: +stopped/);
  });

  it("keeps using a cluster already in the clone's .partman/local (made before /var/lib was used)", () => {
    const project = clone(path.join(home, "upgraded"));
    const inClone = path.join(project, ".partman", "local");
    fs.mkdirSync(path.join(inClone, "data"), { recursive: true });
    fs.writeFileSync(path.join(inClone, "data", "PG_VERSION"), "15\n");
    expect(localClusterDir(project)).toBe(inClone);
  });

  it(`${LOCAL_DIR_ENV} chooses the folder (relative to the project), and local url/status say there is no cluster yet`, async () => {
    const project = clone(path.join(home, "chosen"));
    vi.stubEnv(LOCAL_DIR_ENV, "../chosen-cluster");
    try {
      const dir = path.join(home, "chosen-cluster");
      expect(localClusterDir(project)).toBe(dir);
      await expect(localCommand("url", { root: project })).rejects.toThrow(`no local cluster in ${dir}: run \`npx partman-stack local start\``);
      const status = await handle("status", project);
      expect(status.code).toBe(3);
      expect(status.stdout).toBe(`state:    not created yet: \`npx partman-stack local start\` (or \`apply --stack local\`) creates it\nfolder:   ${dir}\n`);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("the README's main command as a normal user", () => {
  let home: string;
  beforeAll(() => {
    // A normal user's home, closed to others as homes often are; the clone inside it is theirs.
    home = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-user-"));
    fs.chmodSync(home, 0o700);
  });
  afterAll(() => {
    const dir = path.join(home, "clone", ".partman", "local");
    if (fs.existsSync(dir)) asUser(["node", path.join(sharedBuild(), "infra/cli/bin.js"), "local", "stop"], path.join(home, "clone"));
    fs.rmSync(home, { recursive: true, force: true });
  });

  const USER = "nobody";
  /** Runs a command as USER in `cwd`; exit code and output. */
  function asUser(argv: string[], cwd: string): { code: number; stdout: string; stderr: string } {
    try {
      const stdout = execFileSync("runuser", ["-u", USER, "--", "env", `HOME=${home}`, "PARTMAN_STACK_DATABASE_URL=", ...argv], { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString();
      return { code: 0, stdout, stderr: "" };
    } catch (err) {
      const e = err as { status: number; stdout?: Buffer; stderr?: Buffer };
      return { code: e.status, stdout: e.stdout?.toString() ?? "", stderr: e.stderr?.toString() ?? "" };
    }
  }

  it("starts the local cluster in the clone's .partman/local, owned by that user; url and status find it, stop stops it", { timeout: 120_000 }, async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("needs root to act as another user");
    const bin = path.join(sharedBuild(), "infra/cli/bin.js");
    if (asUser(["test", "-r", bin], "/").code !== 0) return ctx.skip(`${USER} cannot read this clone's build (the clone itself is in a closed folder)`);
    const root = clone(path.join(home, "clone"));
    const uid = Number(execFileSync("id", ["-u", USER]).toString());
    for (const p of [home, root, path.join(root, "Pulumi.yaml")]) fs.chownSync(p, uid, uid);

    const started = asUser(["node", bin, "local", "start"], root);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    const dir = path.join(root, ".partman", "local");
    expect(fs.statSync(path.join(dir, "data")).uid).toBe(uid);
    expect([fs.statSync(passwordFile(dir)).uid, fs.statSync(passwordFile(dir)).mode & 0o777]).toEqual([uid, 0o600]);
    const url = asUser(["node", bin, "local", "url"], root);
    expect(url.code).toBe(0);
    expect(url.stdout.trim()).toBe(urlOf(dir, readCluster(dir)!.port, "partman_stack"));
    expect(await query(url.stdout.trim(), "SELECT current_setting('shared_preload_libraries') AS preload")).toEqual([{ preload: "pg_cron" }]);
    expect(asUser(["node", bin, "local", "status"], root)).toMatchObject({ code: 0, stdout: expect.stringContaining(dir) });
    expect(asUser(["node", bin, "local", "stop"], root).code).toBe(0);
    expect(asUser(["node", bin, "local", "status"], root).code).toBe(3);
  });
});
