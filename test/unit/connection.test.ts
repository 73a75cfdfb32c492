// TLS settings as every client uses them, without a server: libpq's sslmode meanings for a stack
// file's sslmode and sslRootCert and for a URL's sslmode and sslrootcert, what pg_dump is given
// for each, and a certificate file that cannot be read refused before any connection.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StackSpec } from "../../infra/config/types";
import { validateStack } from "../../infra/config/validate";
import { libpqSslEnv, parseDatabaseUrl, resolveConnection, sslFor } from "../../infra/db/connection";
import { REPO_ROOT } from "../helpers/spec";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-tls-unit-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const ca = path.join(tmp, "ca.pem");
fs.writeFileSync(ca, PEM);
const rootCert = { file: ca, what: "the database's sslRootCert" };

/** What a connection's ssl option does: off, encrypted only, chain only, or chain and host name. */
function meaning(ssl: ReturnType<typeof sslFor> | boolean | object | undefined): string {
  if (!ssl) return "plain";
  if (ssl === true) return "verify-full, public CAs";
  const o = ssl as { rejectUnauthorized?: boolean; ca?: string; checkServerIdentity?: () => undefined };
  if (o.rejectUnauthorized === false) return "encrypted, unverified";
  const against = o.ca === PEM ? "the given CA" : "public CAs";
  return o.checkServerIdentity ? `chain against ${against}, any host name` : `chain against ${against} and host name`;
}

describe("sslmode and sslRootCert mean what they mean to libpq", () => {
  it.each([
    ["disable", null, "plain", { PGSSLMODE: "disable" }],
    ["prefer", null, "encrypted, unverified", { PGSSLMODE: "require" }],
    ["require", null, "encrypted, unverified", { PGSSLMODE: "require" }],
    ["require", rootCert, "chain against the given CA, any host name", { PGSSLMODE: "verify-ca", PGSSLROOTCERT: ca }],
    ["verify-ca", rootCert, "chain against the given CA, any host name", { PGSSLMODE: "verify-ca", PGSSLROOTCERT: ca }],
    // Public CAs sign anyone's names: without a CA of its own, verify-ca checks the host name too, as before.
    ["verify-ca", null, "chain against public CAs and host name", { PGSSLMODE: "verify-full" }],
    ["verify-full", rootCert, "chain against the given CA and host name", { PGSSLMODE: "verify-full", PGSSLROOTCERT: ca }],
    ["verify-full", null, "chain against public CAs and host name", { PGSSLMODE: "verify-full" }],
  ] as const)("%s with root certificate %o: %s; pg_dump gets the same", (mode, root, expected, env) => {
    const ssl = sslFor(mode, root);
    expect(meaning(ssl)).toBe(expected);
    expect(libpqSslEnv(ssl)).toEqual(env);
  });

  it("refuses a root certificate that cannot be read, or holds no certificate, naming the setting and the path", () => {
    expect(() => sslFor("verify-full", { file: path.join(tmp, "missing.pem"), what: "the database's sslRootCert" })).toThrow(
      `the database's sslRootCert ${path.join(tmp, "missing.pem")} cannot be read (ENOENT): give the path of a readable PEM file`,
    );
    const key = path.join(tmp, "key.pem");
    fs.writeFileSync(key, "-----BEGIN PRIVATE KEY-----\n");
    expect(() => sslFor("verify-ca", { file: key, what: "the database's sslRootCert" })).toThrow(
      `the database's sslRootCert ${key} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA certificate that signed the server's`,
    );
  });

  it("a stack file's sslRootCert is read when connecting: a missing file fails before any connection, naming the key and path", async () => {
    const spec: StackSpec = validateStack("prod", REPO_ROOT, { database: { mode: "external", host: "db.invalid", database: "app", user: "me", sslmode: "verify-full", sslRootCert: "certs/missing-ca.pem" } });
    await expect(resolveConnection(spec)).rejects.toThrow(`the database's sslRootCert ${path.join(REPO_ROOT, "certs/missing-ca.pem")} cannot be read (ENOENT)`);
    const found = validateStack("prod", tmp, { database: { mode: "external", host: "db.invalid", database: "app", user: "me", sslmode: "verify-ca", sslRootCert: "ca.pem" } });
    expect(meaning((await resolveConnection(found)).ssl)).toBe("chain against the given CA, any host name");
  });
});

describe("a database URL's sslmode and sslrootcert", () => {
  const url = (query: string) => `postgres://me:secret@db.example.com:5432/app${query}`;

  it.each([
    ["", "plain"],
    ["?sslmode=disable", "plain"],
    ["?sslmode=require", "encrypted, unverified"],
    ["?sslmode=prefer", "encrypted, unverified"],
    [`?sslmode=require&sslrootcert=${ca}`, "chain against the given CA, any host name"],
    [`?sslmode=verify-ca&sslrootcert=${ca}`, "chain against the given CA, any host name"],
    [`?sslmode=verify-full&sslrootcert=${ca}`, "chain against the given CA and host name"],
    ["?sslmode=verify-full", "chain against public CAs and host name"],
    // As pg-connection-string read them before: a certificate without sslmode, and its own spellings.
    [`?sslrootcert=${ca}`, "chain against the given CA and host name"],
    ["?ssl=true", "verify-full, public CAs"],
    ["?sslmode=no-verify", "encrypted, unverified"],
  ])("%s: %s", (query, expected) => {
    const config = parseDatabaseUrl(url(query));
    expect(meaning(config.ssl)).toBe(expected);
    expect(config).toMatchObject({ host: "db.example.com", port: 5432, database: "app", user: "me", password: "secret" });
  });

  it("keeps the URL's other parameters, and gives pg_dump the root certificate's absolute path", () => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      const config = parseDatabaseUrl(url("?application_name=ops&sslmode=verify-ca&sslrootcert=ca.pem&options=-c%20search_path%3Dapp"));
      expect(config).toMatchObject({ application_name: "ops", options: "-c search_path=app" });
      expect(libpqSslEnv(config.ssl)).toEqual({ PGSSLMODE: "verify-ca", PGSSLROOTCERT: ca });
    } finally {
      process.chdir(cwd);
    }
  });

  it("refuses a certificate file it cannot read, naming the parameter and the path", () => {
    const missing = path.join(tmp, "nope.pem");
    expect(() => parseDatabaseUrl(url(`?sslmode=verify-full&sslrootcert=${missing}`))).toThrow(`sslrootcert= in the database URL ${missing} cannot be read (ENOENT)`);
    expect(() => parseDatabaseUrl(url(`?sslmode=require&sslcert=${missing}`))).toThrow(`sslcert= in the database URL ${missing} cannot be read (ENOENT)`);
  });
});
