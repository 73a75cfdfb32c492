// Installs what the embedded and test clusters need, on Debian as root: PostgreSQL 15, pg_partman
// 4.7.2 and pg_cron from the machine's own suite, and the extension SQL of newer pg_partman
// releases taken from newer Debian suites' packages: 5.2.4 from trixie's postgresql-17-partman,
// 5.5.0 from testing's postgresql-18-partman (their SQL runs on PG 15; only the .sql files are
// needed, update scripts included, so `ALTER EXTENSION pg_partman UPDATE` works between them).
// Elsewhere it says exactly what to install. Idempotent: a complete machine costs a few stat calls.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { PartmanStackError } from "../config/errors";

export const PG_MAJOR = 15;
export const PG_BIN = `/usr/lib/postgresql/${PG_MAJOR}/bin`;
export const EXTENSION_DIR = `/usr/share/postgresql/${PG_MAJOR}/extension`;
export const PARTMAN_VERSIONS = ["4.7.2", "5.2.4", "5.5.0"] as const;

const PACKAGES = [
  { name: `postgresql-${PG_MAJOR}`, provides: path.join(PG_BIN, "initdb") },
  { name: `postgresql-${PG_MAJOR}-partman`, provides: path.join(EXTENSION_DIR, "pg_partman--4.7.2.sql") },
  { name: `postgresql-${PG_MAJOR}-cron`, provides: path.join(EXTENSION_DIR, "pg_cron.control") },
];
/** The newer releases whose SQL comes from a newer suite's package, oldest first (an update
 *  script a newer package lacks comes from the older one). */
export const PARTMAN_RELEASES = [
  { version: "5.2.4", pkg: "postgresql-17-partman", suite: "trixie", pgMajor: 17 },
  { version: "5.5.0", pkg: "postgresql-18-partman", suite: "testing", pgMajor: 18 },
] as const;
export type PartmanRelease = (typeof PARTMAN_RELEASES)[number];

export interface Missing {
  packages: string[];
  /** Releases whose pg_partman--<version>.sql the extension folder lacks. */
  partman: PartmanRelease[];
}

export function missingComponents(): Missing {
  return {
    packages: PACKAGES.filter((p) => !fs.existsSync(p.provides)).map((p) => p.name),
    partman: PARTMAN_RELEASES.filter((r) => !fs.existsSync(path.join(EXTENSION_DIR, sqlFile(r)))),
  };
}

const sqlFile = (r: PartmanRelease) => `pg_partman--${r.version}.sql`;

export async function ensurePostgres(log: (line: string) => void = () => {}): Promise<void> {
  const missing = missingComponents();
  if (missing.packages.length === 0 && missing.partman.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = fs.existsSync("/usr/bin/apt-get") && fs.existsSync("/usr/bin/dpkg-deb");
  if (!isRoot || !hasApt) throw new PartmanStackError(installInstructions(missing, hasApt));
  if (missing.packages.length > 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    await timed(log, "updating the machine's apt package lists", () => run("apt-get", ["update", "-q"], { env, log }));
    await timed(log, `installing ${missing.packages.join(", ")} with apt-get (10–30 s on a fresh machine)`, () =>
      run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing.packages], { env, log }),
    );
    const still = missingComponents().packages;
    if (still.length > 0) throw new PartmanStackError(`apt-get installed ${missing.packages.join(", ")} but ${still.join(", ")} still lacks its files`, installInstructions(missingComponents(), true), { join: "; " });
  }
  for (const r of missingComponents().partman) {
    await timed(log, `installing pg_partman ${r.version}'s extension SQL from Debian ${r.suite}'s ${r.pkg}`, () => installPartmanSql(r, EXTENSION_DIR, log));
  }
}

/** Logs `what` before running it and its duration after: installs and initdb take seconds. */
export async function timed<T>(log: (line: string) => void, what: string, step: () => Promise<T>): Promise<T> {
  log(`${what}…`);
  const started = Date.now();
  const result = await step();
  log(`${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Downloads a release's package from its suite with a private apt configuration (the machine's
 *  sources are not touched) and copies its pg_partman--*.sql files that `extensionDir` lacks;
 *  the control file stays PG 15's own. Returns the files copied. */
export async function installPartmanSql(release: PartmanRelease, extensionDir: string, log: (line: string) => void = () => {}): Promise<string[]> {
  const { pkg, suite } = release;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-apt-"));
  // apt downloads as the unprivileged _apt user, which must reach this folder.
  fs.chmodSync(tmp, 0o755);
  try {
    fs.mkdirSync(path.join(tmp, "sources.d"));
    fs.mkdirSync(path.join(tmp, "lists/partial"), { recursive: true });
    fs.mkdirSync(path.join(tmp, "cache/archives/partial"), { recursive: true });
    fs.writeFileSync(
      path.join(tmp, "sources.d", `${suite}.sources`),
      `Types: deb\nURIs: http://deb.debian.org/debian\nSuites: ${suite}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    );
    const apt = [
      "-o", "Dir::Etc::SourceList=/dev/null",
      "-o", `Dir::Etc::SourceParts=${tmp}/sources.d`,
      "-o", `Dir::State::Lists=${tmp}/lists`,
      "-o", `Dir::Cache=${tmp}/cache`,
      "-o", "Debug::NoLocking=1",
    ];
    await timed(log, `downloading Debian ${suite}'s package lists (into a temporary folder)`, () => run("apt-get", [...apt, "update", "-q"], { log }));
    await timed(log, `downloading ${pkg}`, () => run("apt-get", [...apt, "download", "-q", pkg], { cwd: tmp, log }));
    const deb = fs.readdirSync(tmp).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
    if (!deb) throw new PartmanStackError(`apt-get download ${pkg} from ${suite} produced no .deb`);
    await run("dpkg-deb", ["-x", path.join(tmp, deb), path.join(tmp, "root")]);
    const from = path.join(tmp, `root/usr/share/postgresql/${release.pgMajor}/extension`);
    const sql = fs.readdirSync(from).filter((f) => /^pg_partman--.*\.sql$/.test(f));
    if (!sql.includes(sqlFile(release))) {
      throw new PartmanStackError(
        `${deb} has no ${sqlFile(release)} (it has ${sql.filter((f) => /^pg_partman--[\d.]+\.sql$/.test(f)).join(", ")}): Debian ${suite} has moved on`,
        `install pg_partman ${release.version}'s SQL by hand (its release's sql/ build) into ${extensionDir}/`,
        { join: "; " },
      );
    }
    const copied = sql.filter((f) => !fs.existsSync(path.join(extensionDir, f)));
    for (const f of copied) fs.copyFileSync(path.join(from, f), path.join(extensionDir, f));
    return copied;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function installInstructions(missing: Missing, hasApt: boolean): string {
  const steps: string[] = [];
  if (missing.packages.length > 0) {
    steps.push(
      hasApt
        ? `sudo apt-get install ${missing.packages.join(" ")}`
        : `install PostgreSQL ${PG_MAJOR} with pg_partman 4.7.2 and pg_cron 1.4 (Debian/Ubuntu packages: ${missing.packages.join(", ")}; expected ${PACKAGES.filter((p) => missing.packages.includes(p.name)).map((p) => p.provides).join(", ")})`,
    );
  }
  for (const r of missing.partman) {
    steps.push(`copy pg_partman ${r.version}'s pg_partman--*.sql files (from Debian ${r.suite}'s ${r.pkg}, or pg_partman's v${r.version} release sql/ build) into ${EXTENSION_DIR}/`);
  }
  return `PostgreSQL ${PG_MAJOR} with pg_partman and pg_cron is not fully installed, and partman-stack installs it itself only as root on Debian. To do it by hand:\n${steps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}\nor run the same partman-stack command once as root.`;
}

/** Runs a command, passing each line it prints to `log` (apt's own progress, indented), and
 *  naming what it said on failure. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; log?: (line: string) => void } = {}): Promise<void> {
  const shown = `${cmd} ${args.filter((a) => !a.startsWith("Dir::") && a !== "-o" && a !== "Debug::NoLocking=1").join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const said = { stdout: [] as string[], stderr: [] as string[] };
    for (const name of ["stdout", "stderr"] as const) {
      readline.createInterface({ input: child[name] }).on("line", (line) => {
        said[name].push(line);
        if (line.trim()) opts.log?.(`  ${line}`);
      });
    }
    child.on("error", (err) => reject(new PartmanStackError(`${shown} failed: ${err.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve();
      const output = (said.stderr.length > 0 ? said.stderr : said.stdout).slice(-20).join("\n").trim();
      reject(new PartmanStackError(`${shown} failed: ${output || (signal ? `killed by ${signal}` : `exit code ${code}`)}`));
    });
  });
}
