// pg_dump and pg_restore for one partition: dump it in custom format, write the sha256 beside it,
// and verify both before anything is dropped. The tools connect as the session does.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import type { Client } from "pg";
import { quoteIdent } from "../config/identifiers";
import { libpqSslEnv } from "../db/connection";

export interface Tools {
  /** Directory of pg_dump and pg_restore; null: found on PATH. */
  bin: string | null;
  /** The environment that points libpq at the session's server. */
  env: NodeJS.ProcessEnv;
}

/** libpq settings from the session's resolved connection (URL, PGPASSWORD, pgpass already
 *  applied by node-postgres), so pg_dump reaches the same server as the same user, with the same
 *  TLS mode and root certificate. */
export function toolsFor(db: Client, database: string, bin: string | null): Tools {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: db.host,
    PGPORT: String(db.port),
    PGDATABASE: database,
    PGAPPNAME: "partman-stack archive",
    ...libpqSslEnv(db.ssl),
  };
  if (db.user) env.PGUSER = db.user;
  if (db.password) env.PGPASSWORD = db.password;
  return { bin, env };
}

/** Custom format: compressed, and pg_restore can list, select and restore it. Written to pg_dump's
 *  stdout, which is `fd`: the descriptor that claimed the file's name, so pg_dump never opens a
 *  path another user could have swapped for a symlink meanwhile. A regular file is seekable, so
 *  pg_dump still writes the data offsets pg_restore uses. */
export async function dumpTable(tools: Tools, schema: string, table: string, fd: number, lockWaitMs: number): Promise<void> {
  await run(tools, "pg_dump", [
    "--format=custom",
    "--no-password",
    "--strict-names",
    // pg_dump waits behind any queued ACCESS EXCLUSIVE request, e.g. maintenance's, which in turn
    // waits for the SHARE lock this run holds: a cycle the server cannot see. Give up instead.
    `--lock-wait-timeout=${lockWaitMs}`,
    `--table=${quoteIdent(schema)}.${quoteIdent(table)}`,
  ], fd);
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** `sha256sum` format, so `sha256sum -c` checks it from the dump's directory. */
export function checksumLine(sha256: string, file: string): string {
  return `${sha256}  ${path.basename(file)}\n`;
}

/** Readable archive with the partition's data, checksum file matching the file on disk, and as
 *  many rows as the partition had when it was locked. Throws what does not hold. */
export async function verifyDump(tools: Tools, schema: string, table: string, file: string, sumFile: string, rows: number): Promise<void> {
  const list = (await run(tools, "pg_restore", ["--list", file])).stdout;
  const entry = list.split("\n").some((l) => {
    const m = /^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) /.exec(l);
    return m !== null && m[1] === schema && m[2] === table;
  });
  if (!entry) throw new Error(`verification failed: pg_restore --list ${file} shows no TABLE DATA entry for ${schema}.${table}`);

  const dumped = await countDumpedRows(tools, file);
  if (dumped !== rows) throw new Error(`verification failed: ${file} holds ${dumped} row(s), ${schema}.${table} holds ${rows}`);

  const m = /^([0-9a-f]{64}) {2}(.+)\n$/.exec(fs.readFileSync(sumFile, "utf8"));
  if (!m || m[2] !== path.basename(file)) throw new Error(`verification failed: ${sumFile} is not a sha256sum line for ${path.basename(file)}`);
  const actual = await sha256File(file);
  if (actual !== m[1]) throw new Error(`verification failed: ${file} has sha256 ${actual}, ${sumFile} says ${m[1]}`);
}

/** Data lines of the COPY blocks pg_restore prints: COPY's text format escapes newlines inside
 *  values, so each row is one line, and a block ends at a line that is exactly `\.`. */
async function countDumpedRows(tools: Tools, file: string): Promise<number> {
  const child = spawn(binary(tools, "pg_restore"), ["--data-only", "--file=-", file], { env: tools.env, stdio: ["ignore", "pipe", "pipe"] });
  let inCopy = false;
  const count = async () => {
    let rows = 0;
    for await (const line of readline.createInterface({ input: child.stdout, crlfDelay: Infinity })) {
      if (inCopy) {
        if (line === "\\.") inCopy = false;
        else rows++;
      } else if (line.startsWith("COPY ") && line.endsWith(" FROM stdin;")) inCopy = true;
    }
    return rows;
  };
  // Both awaited together, so a failing pg_restore is never an unhandled rejection.
  const [rows] = await Promise.all([count(), exitOf(child, "pg_restore")]);
  if (inCopy) throw new Error(`verification failed: the data in ${file} ends inside a COPY block`);
  return rows;
}

function binary(tools: Tools, name: string): string {
  return tools.bin ? path.join(tools.bin, name) : name;
}

/** stdout: a descriptor the output goes to; default: collected and returned. */
async function run(tools: Tools, name: string, args: string[], stdout: number | "pipe" = "pipe"): Promise<{ stdout: string }> {
  const child = spawn(binary(tools, name), args, { env: tools.env, stdio: ["ignore", stdout, "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  await exitOf(child, name);
  return { stdout: out };
}

function exitOf(child: ReturnType<typeof spawn>, name: string): Promise<void> {
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT"
          ? new Error(`${name} not found (${child.spawnfile}): install the PostgreSQL client tools, at least the server's major version, or point pgBin (PARTMAN_STACK_PG_BIN) at their directory`)
          : err,
      );
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${name} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || "no message"}`));
    });
  });
}
