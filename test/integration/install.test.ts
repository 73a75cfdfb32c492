// The installer's newer pg_partman releases: real downloads of Debian trixie's postgresql-17-partman
// (5.2.4) and testing's postgresql-18-partman (5.5.0) through a private apt configuration,
// extracted into a scratch extension folder.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXTENSION_DIR, installInstructions, installPartmanSql, missingComponents, PARTMAN_RELEASES } from "../../infra/local/install";

const [trixie, testing] = PARTMAN_RELEASES;

describe("installing newer pg_partman releases' SQL from newer Debian suites", () => {
  it("copies only the pg_partman--*.sql files the folder lacks, including the 4.7 → 5 update path, saying what it does", { timeout: 180_000 }, async () => {
    const ext = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-ext-"));
    try {
      fs.writeFileSync(path.join(ext, "pg_partman--4.7.2.sql"), "-- the 4.7.2 package's own file\n");
      const log: string[] = [];
      const copied = await installPartmanSql(trixie, ext, (line) => log.push(line));
      // Each step before it starts and with its duration after, apt's own lines indented between.
      expect(log[0]).toBe("downloading Debian trixie's package lists (into a temporary folder)…");
      expect(log).toContain("downloading postgresql-17-partman…");
      expect(log.some((l) => /^downloading postgresql-17-partman: done in \d+\.\d s$/.test(l))).toBe(true);
      expect(log.some((l) => /^  .*trixie/.test(l))).toBe(true);
      expect(copied).toContain("pg_partman--5.2.4.sql");
      expect(copied).toEqual(expect.arrayContaining(["pg_partman--4.7.2--4.7.3.sql", "pg_partman--4.7.4--4.8.0.sql", "pg_partman--4.8.0--5.0.0.sql"]));
      expect(copied.every((f) => /^pg_partman--.*\.sql$/.test(f))).toBe(true);
      expect(fs.readdirSync(ext).filter((f) => !f.endsWith(".sql"))).toEqual([]);
      expect(fs.readFileSync(path.join(ext, "pg_partman--4.7.2.sql"), "utf8")).toBe("-- the 4.7.2 package's own file\n");
      // Identical to what the throwaway cluster installs from (the global setup installed it).
      expect(fs.readFileSync(path.join(ext, "pg_partman--5.2.4.sql"))).toEqual(fs.readFileSync(path.join(EXTENSION_DIR, "pg_partman--5.2.4.sql")));
      expect(await installPartmanSql(trixie, ext)).toEqual([]);

      // 5.5.0 from testing adds itself and the update path from 5.2.4, and leaves 5.2.4's files alone.
      const before = fs.readFileSync(path.join(ext, "pg_partman--5.2.4.sql"));
      const added = await installPartmanSql(testing, ext);
      expect(added).toContain("pg_partman--5.5.0.sql");
      expect(added).toEqual(expect.arrayContaining(["pg_partman--5.2.4--5.3.0.sql", "pg_partman--5.3.1--5.4.0.sql", "pg_partman--5.4.3--5.5.0.sql"]));
      expect(added).not.toContain("pg_partman--5.2.4.sql");
      expect(fs.readFileSync(path.join(ext, "pg_partman--5.2.4.sql"))).toEqual(before);
      expect(fs.readFileSync(path.join(ext, "pg_partman--5.5.0.sql"))).toEqual(fs.readFileSync(path.join(EXTENSION_DIR, "pg_partman--5.5.0.sql")));
    } finally {
      fs.rmSync(ext, { recursive: true, force: true });
    }
  });

  it("finds nothing missing once set up, and says exactly what to install where it cannot", () => {
    expect(missingComponents()).toEqual({ packages: [], partman: [] });
    const text = installInstructions({ packages: ["postgresql-15-partman"], partman: [testing] }, true);
    expect(text).toContain("sudo apt-get install postgresql-15-partman");
    expect(text).toContain("pg_partman 5.5.0's pg_partman--*.sql files (from Debian testing's postgresql-18-partman");
    expect(text).toContain(`into ${EXTENSION_DIR}/`);
  });
});
