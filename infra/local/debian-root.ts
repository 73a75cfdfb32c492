// PostgreSQL 18 with pg_partman 5.5 and pg_cron 1.6 from Debian testing's packages, on a machine
// whose own suite is older: a debootstrap'd root of Debian testing, built once (2–3 minutes) and
// cached under ${PARTMAN_STACK_CACHE:-~/.cache/partman-stack}/debian-testing-postgresql-18/.
// Its server runs as the root's own `postgres` user, chrooted, in a private mount namespace that
// binds /proc, /dev, /dev/pts, /dev/shm and the cluster's folder at the same paths inside the root:
// the mounts go with the last process of the namespace, so a killed run leaves none behind. Its
// client tools run from the host through the root's dynamic loader (wrappers in client-bin/).
// Everything here needs root on Debian (debootstrap, chroot, mount namespaces).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run, timed } from "./install";
import { PartmanStackError } from "../config/errors";

export const ROOT_MAJOR = 18;
export const ROOT_SUITE = "testing";
export const ROOT_PACKAGES = [`postgresql-${ROOT_MAJOR}`, `postgresql-${ROOT_MAJOR}-partman`, `postgresql-${ROOT_MAJOR}-cron`] as const;
/** The pg_partman releases the root's server has: its package's own. */
export const ROOT_PARTMAN_VERSIONS = ["5.5.0"] as const;
/** Where the root's packages come from: Debian's mirror, or (when testing has moved past the
 *  releases below) a snapshot of it from a day that had them, e.g.
 *  http://snapshot.debian.org/archive/debian/20261201T000000Z. */
export const MIRROR_ENV = "PARTMAN_STACK_DEBIAN_MIRROR";
const mirror = () => process.env[MIRROR_ENV] || "http://deb.debian.org/debian";
/** The server's programs (initdb, pg_ctl, postgres), at their path inside the root. */
export const ROOT_PG_BIN = `/usr/lib/postgresql/${ROOT_MAJOR}/bin`;
const CLIENT_TOOLS = ["pg_dump", "pg_restore", "psql"] as const;
const SERVER_USER = "postgres";
/** Written into the root last, before it is renamed into place: the packages' versions. */
const MARKER = ".partman-stack-root.json";

export interface RootMarker {
  suite: string;
  built: string;
  packages: Record<string, string>;
}

/** ${PARTMAN_STACK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/partman-stack}, as toolchain/pulumi/build.sh. */
export function cacheDir(): string {
  return process.env.PARTMAN_STACK_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "partman-stack");
}

export const rootBase = () => path.join(cacheDir(), `debian-${ROOT_SUITE}-postgresql-${ROOT_MAJOR}`);
/** The root itself: complete whenever it exists (it is built elsewhere and renamed here). */
export const rootDir = () => path.join(rootBase(), "root");
/** pg_dump, pg_restore and psql of major 18, run from the host with host paths. */
export const clientBinDir = () => path.join(rootBase(), "client-bin");

export function readMarker(root = rootDir()): RootMarker | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, MARKER), "utf8")) as RootMarker;
  } catch {
    return null;
  }
}

/** Builds the root when the cache lacks it, and writes the client wrappers. Idempotent. */
export async function ensureDebianRoot(log: (line: string) => void = () => {}): Promise<string> {
  requireRootOnDebian();
  const root = rootDir();
  if (!readMarker(root)) await timed(log, `building a Debian ${ROOT_SUITE} root with PostgreSQL ${ROOT_MAJOR} in ${root} (2–3 minutes, once; cached)`, () => buildRoot(root, log));
  writeClientWrappers(root, clientBinDir());
  return root;
}

function requireRootOnDebian(): void {
  const why = `PostgreSQL ${ROOT_MAJOR} comes from a Debian ${ROOT_SUITE} root that partman-stack builds with debootstrap and runs with chroot and a mount namespace`;
  if (!fs.existsSync("/etc/debian_version") || !fs.existsSync("/usr/bin/apt-get")) {
    throw new PartmanStackError(`${why}, which needs Debian (this machine has no /etc/debian_version or apt-get)`, `run the PostgreSQL ${ROOT_MAJOR} tests on Debian, as root`);
  }
  if (process.getuid?.() !== 0) throw new PartmanStackError(`${why}, which needs root`, `run it as root (sudo -E), or leave PARTMAN_STACK_TEST_POSTGRES unset for the PostgreSQL 15 run`);
}

async function buildRoot(root: string, log: (line: string) => void): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!fs.existsSync("/usr/sbin/debootstrap")) {
    await timed(log, "updating the machine's apt package lists", () => run("apt-get", ["update", "-q"], { env, log }));
    await timed(log, "installing debootstrap with apt-get", () => run("apt-get", ["install", "-y", "-q", "--no-install-recommends", "debootstrap"], { env, log }));
  }
  fs.mkdirSync(path.dirname(root), { recursive: true });
  // A killed build leaves only a build-* folder, never a root that looks complete.
  const build = fs.mkdtempSync(path.join(path.dirname(root), "build-"));
  const tmpRoot = path.join(build, "root");
  try {
    await timed(log, `debootstrap --variant=minbase ${ROOT_SUITE} (from ${mirror()})`, () => run("debootstrap", ["--variant=minbase", ROOT_SUITE, tmpRoot, mirror()], { env, log }));
    // The machine's apt settings (its mirror's testing Release file is past its Valid-Until, which
    // they allow), its resolver, no service started by a package, and no cluster created on 5432.
    fs.cpSync("/etc/apt/apt.conf.d", path.join(tmpRoot, "etc/apt/apt.conf.d"), { recursive: true });
    fs.copyFileSync("/etc/resolv.conf", path.join(tmpRoot, "etc/resolv.conf"));
    fs.writeFileSync(path.join(tmpRoot, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    fs.mkdirSync(path.join(tmpRoot, "etc/postgresql-common"), { recursive: true });
    fs.writeFileSync(path.join(tmpRoot, "etc/postgresql-common/createcluster.conf"), "# partman-stack: clusters are made by initdb in their own folders\ncreate_main_cluster = false\n");
    const apt = (args: string[]) => run("unshare", inRootArgv(tmpRoot, [], null, "apt-get", args), { env, log });
    await timed(log, `apt-get update in the root`, () => apt(["update", "-q"]));
    await timed(log, `installing ${ROOT_PACKAGES.join(", ")} in the root`, () =>
      apt(["install", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", ...ROOT_PACKAGES]),
    );
    await apt(["clean"]);
    const versions = execFileSync("chroot", [tmpRoot, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n", ...ROOT_PACKAGES]).toString();
    const packages = Object.fromEntries(versions.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    const moved = rootPackageProblem(packages);
    if (moved) throw new PartmanStackError(moved);
    const marker: RootMarker = { suite: ROOT_SUITE, built: new Date().toISOString(), packages };
    fs.writeFileSync(path.join(tmpRoot, MARKER), JSON.stringify(marker, null, 2) + "\n");
    log(`root packages: ${Object.entries(packages).map(([p, v]) => `${p} ${v}`).join(", ")}`);
    try {
      fs.renameSync(tmpRoot, root);
    } catch (err) {
      // Another run finished first: its root serves.
      if (!readMarker(root)) throw err;
    }
  } finally {
    fs.rmSync(build, { recursive: true, force: true });
  }
}

/** Why the packages installed are not the releases partman-stack's PostgreSQL 18 tests are written
 *  for (Debian testing moves on), with the fix; null when they are. The root is then not kept. */
export function rootPackageProblem(packages: Record<string, string>): string | null {
  const partman = packages[`postgresql-${ROOT_MAJOR}-partman`] ?? "none";
  if (ROOT_PARTMAN_VERSIONS.some((v) => partman.startsWith(`${v}-`))) return null;
  return (
    `Debian ${ROOT_SUITE} now ships postgresql-${ROOT_MAJOR}-partman ${partman}, not pg_partman ${ROOT_PARTMAN_VERSIONS.join(" or ")}, which the PostgreSQL ${ROOT_MAJOR} tests are written for: ` +
    `set ${MIRROR_ENV} to a snapshot of Debian from a day that shipped it (e.g. http://snapshot.debian.org/archive/debian/20261201T000000Z), ` +
    `or move ROOT_PARTMAN_VERSIONS in infra/local/debian-root.ts (and the tests' expectations) to the new release`
  );
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** unshare's argv: a private mount namespace binding /proc, /dev, /dev/pts, /dev/shm and each of
 *  `folders` at the same path inside `root`, then `cmd args` chrooted, as `user` when given. */
export function inRootArgv(root: string, folders: string[], user: string | null, cmd: string, args: string[]): string[] {
  const binds = ["/proc", "/dev", "/dev/pts", "/dev/shm", ...folders].map((f) => `mkdir -p ${quote(root + f)} && mount --bind ${quote(f)} ${quote(root + f)}`);
  const as = user ? `runuser -u ${user} -- ` : "";
  const script = `set -e\n${binds.join("\n")}\nexec chroot ${quote(root)} ${as}"$@"`;
  return ["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", cmd, ...args];
}

/** The root's server user's uid and gid: its own, not the host's. */
export function rootServerUserIds(root = rootDir()): [number, number] {
  const line = fs.readFileSync(path.join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${SERVER_USER}:`));
  if (!line) throw new PartmanStackError(`the root in ${root} has no ${SERVER_USER} user`, `remove ${root} to build it again`);
  const [, , uid, gid] = line.split(":");
  return [Number(uid), Number(gid)];
}

/** Removes the empty mount point made for `folder` inside the root (its parents are the root's). */
export function removeMountPoint(folder: string, root = rootDir()): void {
  try {
    fs.rmdirSync(root + path.resolve(folder));
  } catch {
    // Not made, or in use by a running server.
  }
}

function multiarch(): { triplet: string; loader: string } {
  if (process.arch === "x64") return { triplet: "x86_64-linux-gnu", loader: "ld-linux-x86-64.so.2" };
  if (process.arch === "arm64") return { triplet: "aarch64-linux-gnu", loader: "ld-linux-aarch64.so.1" };
  throw new PartmanStackError(`the Debian ${ROOT_SUITE} root's client tools are wired for x86-64 and arm64, not ${process.arch}`);
}

/** Scripts running the root's client tools with the host's paths, files and descriptors: the
 *  root's dynamic loader and libraries, no chroot, so `pg_dump > fd` and `pg_restore --list <host
 *  file>` work as with the host's own tools. */
function writeClientWrappers(root: string, bin: string): void {
  const { triplet, loader } = multiarch();
  fs.mkdirSync(bin, { recursive: true });
  const libs = [`${root}/usr/lib/${triplet}`, `${root}/lib/${triplet}`].join(":");
  for (const tool of CLIENT_TOOLS) {
    const script = `#!/bin/sh\n# partman-stack: ${tool} ${ROOT_MAJOR} from the Debian ${ROOT_SUITE} root\nexec ${quote(`${root}/usr/lib/${triplet}/${loader}`)} --library-path ${quote(libs)} ${quote(`${root}${ROOT_PG_BIN}/${tool}`)} "$@"\n`;
    const file = path.join(bin, tool);
    if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === script) continue;
    fs.writeFileSync(`${file}.tmp`, script, { mode: 0o755 });
    fs.renameSync(`${file}.tmp`, file);
  }
}
