// TLS against a real server: a throwaway cluster of its own with ssl = on and a certificate for
// localhost (only) signed by a test CA made here with openssl. Each sslmode as libpq means it, for
// node-postgres (stack file settings and URLs) and for libpq itself as pg_dump gets it.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolsFor } from "../../infra/archive/dump";
import type { SslMode } from "../../infra/config/types";
import { clientConfig, libpqSslEnv, parseDatabaseUrl, sslFor } from "../../infra/db/connection";
import { openSession, withSession } from "../../infra/db/session";
import { destroyCluster, startCluster } from "../../infra/local/cluster";
import { PG_BIN } from "../../infra/local/install";

const SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

describe("TLS against a server whose certificate a test CA signed for localhost", () => {
  let tmp: string;
  let dir: string;
  let port: number;
  let password: string;
  let ca: string;
  let otherCa: string;

  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
  const selfSignedCa = (name: string, cn: string) => {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${cn}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-keyout", `${name}.key`, "-out", `${name}.crt`);
    return path.join(tmp, `${name}.crt`);
  };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-tls-"));
    // The server runs as `postgres` when the tests run as root: it must reach the folder.
    fs.chmodSync(tmp, 0o755);
    ca = selfSignedCa("ca", "partman-stack test CA");
    otherCa = selfSignedCa("other-ca", "another CA");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
    fs.writeFileSync(path.join(tmp, "server.ext"), "subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n");
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "1", "-days", "2", "-extfile", "server.ext", "-out", "server.crt");

    dir = path.join(tmp, "cluster");
    const cluster = await startCluster(dir, { database: "postgres", cronDatabase: "postgres", throwaway: true });
    port = cluster.port;
    password = decodeURIComponent(new URL(cluster.url).password);
    const data = path.join(dir, "data");
    const owner = fs.statSync(data);
    for (const f of ["server.crt", "server.key"]) {
      fs.copyFileSync(path.join(tmp, f), path.join(data, f));
      fs.chownSync(path.join(data, f), owner.uid, owner.gid);
      fs.chmodSync(path.join(data, f), 0o600);
    }
    await withSession(parseDatabaseUrl(cluster.url), { owner: null }, async (s) => {
      await s.target.query("ALTER SYSTEM SET ssl = on");
      await s.target.query("SELECT pg_reload_conf()");
    });
    // The reload is signalled, not waited for.
    for (let tries = 0; !(await connect("require", null, "127.0.0.1").catch(() => false)); tries++) {
      if (tries === 100) throw new Error("the test server did not turn TLS on within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (dir) await destroyCluster(dir);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Connects as a stack file's database settings would, and says whether TLS is in use. */
  async function connect(sslmode: SslMode, sslRootCert: string | null, host: string): Promise<boolean> {
    const session = await openSession(clientConfig({ host, port, database: "postgres", user: "postgres", sslmode, sslRootCert }, password), { owner: null });
    try {
      return (await session.target.query<{ ssl: boolean }>(SSL_IN_USE)).rows[0].ssl;
    } finally {
      await session.close();
    }
  }

  /** psql (libpq, as pg_dump and pg_restore) with the environment partman-stack gives them. */
  function libpq(env: NodeJS.ProcessEnv): { ok: boolean; out: string } {
    try {
      return { ok: true, out: execFileSync(path.join(PG_BIN, "psql"), ["-X", "-w", "-At", "-c", SSL_IN_USE], { env, stdio: ["ignore", "pipe", "pipe"] }).toString().trim() };
    } catch (err) {
      return { ok: false, out: (err as { stderr: Buffer }).stderr.toString() };
    }
  }

  it("verify-full with the CA succeeds to localhost, the name in the certificate", async () => {
    expect(await connect("verify-full", ca, "localhost")).toBe(true);
  });

  it("verify-full to a name not in the certificate (127.0.0.1) fails, naming the host name mismatch", async () => {
    await expect(connect("verify-full", ca, "127.0.0.1")).rejects.toThrow("Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list");
  });

  it("verify-ca with the CA succeeds to 127.0.0.1: the chain is verified, the host name is not", async () => {
    expect(await connect("verify-ca", ca, "127.0.0.1")).toBe(true);
  });

  it("verify-ca with another CA fails", async () => {
    await expect(connect("verify-ca", otherCa, "localhost")).rejects.toThrow(/cannot connect to PostgreSQL at localhost:\d+\/postgres: (self-signed certificate in certificate chain|unable to (verify the first certificate|get local issuer certificate))/);
  });

  it("require without a CA succeeds, encrypted and unverified; require with a CA verifies the chain as verify-ca does, as libpq", async () => {
    expect(await connect("require", null, "127.0.0.1")).toBe(true);
    expect(await connect("require", ca, "127.0.0.1")).toBe(true);
    await expect(connect("require", otherCa, "127.0.0.1")).rejects.toThrow(/self-signed certificate in certificate chain|unable to (verify the first certificate|get local issuer certificate)/);
  });

  it("a database URL's sslmode and sslrootcert mean the same: require without a CA connects, verify-full checks the CA and the host name", async () => {
    const url = (host: string, query: string) => `postgres://postgres:${encodeURIComponent(password)}@${host}:${port}/postgres${query}`;
    const viaUrl = (u: string) => withSession(parseDatabaseUrl(u), { owner: null }, async (s) => (await s.target.query<{ ssl: boolean }>(SSL_IN_USE)).rows[0].ssl);
    expect(await viaUrl(url("127.0.0.1", "?sslmode=require"))).toBe(true);
    expect(await viaUrl(url("localhost", `?sslmode=verify-full&sslrootcert=${ca}`))).toBe(true);
    await expect(viaUrl(url("127.0.0.1", `?sslmode=verify-full&sslrootcert=${ca}`))).rejects.toThrow("Hostname/IP does not match certificate's altnames");
    await expect(viaUrl(url("localhost", `?sslmode=verify-ca&sslrootcert=${otherCa}`))).rejects.toThrow(/self-signed certificate in certificate chain|unable to/);
  });

  it("pg_dump and pg_restore are given the session's mode and root certificate (PGSSLMODE, PGSSLROOTCERT), and libpq enforces them alike", async () => {
    const session = await openSession(clientConfig({ host: "localhost", port, database: "postgres", user: "postgres", sslmode: "verify-full", sslRootCert: ca }, password), { owner: null });
    try {
      const { env } = toolsFor(session.target, "postgres", null);
      expect(env).toMatchObject({ PGHOST: "localhost", PGSSLMODE: "verify-full", PGSSLROOTCERT: ca });
      expect(libpq(env)).toEqual({ ok: true, out: "t" });
    } finally {
      await session.close();
    }
    const base = { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres", PGDATABASE: "postgres", PGPASSWORD: password };
    expect(libpq({ ...base, ...libpqSslEnv(sslFor("verify-full", { file: ca, what: "sslRootCert" })) })).toEqual({ ok: false, out: expect.stringMatching(/server certificate for "localhost" .*does not match host name "127\.0\.0\.1"/) });
    expect(libpq({ ...base, ...libpqSslEnv(sslFor("verify-ca", { file: ca, what: "sslRootCert" })) })).toEqual({ ok: true, out: "t" });
    expect(libpq({ ...base, ...libpqSslEnv(sslFor("verify-ca", { file: otherCa, what: "sslRootCert" })) })).toMatchObject({ ok: false });
    expect(libpq({ ...base, ...libpqSslEnv(sslFor("require", null)) })).toEqual({ ok: true, out: "t" });
  });
});
