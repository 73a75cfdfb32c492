// Stack validation: every malformed value fails before any SQL runs (no database exists in these
// tests), with a message naming the stack, the table and the bad value.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cronPeriodSeconds } from "../../infra/config/cron";
import { ConfigError } from "../../infra/config/errors";
import { loadStack, readStackConfig } from "../../infra/config/stack-file";
import { validateStack } from "../../infra/config/validate";
import type { RawStackConfig } from "../../infra/config/types";
import { auditLog, campaignParticipants, events, jobLog, REPO_ROOT, sensorReadings, tenantAudit, userEvents } from "../helpers/spec";

function problems(raw: RawStackConfig, root = REPO_ROOT): string[] {
  try {
    validateStack("prod", root, raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the stack to be rejected");
}

const one = (overrides: Record<string, unknown>) => problems({ tables: [events(overrides)] });

describe("table entries", () => {
  it.each([
    [{ retention: "90 dayz" }, `stack "prod", table public.events: retention "90 dayz" is not a PostgreSQL interval: unknown unit "dayz" (did you mean "days"?)`],
    [{ retention: "ninety days" }, `retention "ninety days" is not a PostgreSQL interval`],
    [{ retention: "-90 days" }, `negative amounts are not allowed`],
    [{ retention: 90 }, `retention 90 is a number of ids, but control column created_at is timestamptz: write a PostgreSQL interval such as "1 day" (or partition by a smallint, integer or bigint column)`],
    [{ interval: 100000 }, `interval 100000 is a number of ids, but control column created_at is timestamptz`],
    [{ interval: "monthly" }, `interval "monthly" is not a PostgreSQL interval`],
    [{ interval: "0 days" }, `interval "0 days" is not a PostgreSQL interval: it is zero`],
    [{ premake: 0 }, `stack "prod", table public.events: premake 0 must be a whole number ≥ 1`],
    [{ premake: -1 }, `premake -1 must be a whole number ≥ 1`],
    [{ premake: 1.5 }, `premake 1.5 must be a whole number ≥ 1`],
    [{ premake: "four" }, `premake "four" must be a whole number ≥ 1`],
    [{ premake: 1001 }, `premake 1001 is more than 1000 (partitions made ahead of now): maintenance makes them in one transaction, each a table whose locks are held until it commits; declare a wider interval, or a smaller premake`],
    [{ control: "created" }, `stack "prod", table public.events: control "created" is not a column of sql/tables/events.sql (columns: id, run_id, agent_id, kind, payload, created_at)`],
    [{ control: "kind" }, `control column kind is text; partitioning needs timestamptz, timestamp or date (by time), smallint, integer or bigint (by ranges of ids), or uuid with uuidv7: true (by the time in UUIDv7 keys)`],
    [{ control: "created_at; drop table x" }, `control "created_at; drop table x" is not a valid column name: it contains a quote, semicolon`],
    [{ name: `public.ev"ents` }, `table public.ev"ents: name "public.ev\\"ents"`.replace('\\"', '"')],
    [{ name: "public.events;drop" }, `name "public.events;drop" is not a valid table name: "events;drop": it contains a quote, semicolon`],
    [{ name: "events" }, `name "events" must be schema-qualified, e.g. "public.events"`],
    [{ name: "public.Events" }, `"Events": it is not a lower-case identifier`],
    [{ ddl: "../outside.sql" }, `ddl "../outside.sql" is outside the project`],
    [{ ddl: "/etc/passwd" }, `ddl "/etc/passwd" is outside the project`],
    [{ ddl: "sql/tables/nope.sql" }, `ddl "sql/tables/nope.sql" does not exist`],
    [{ ddl: "sql/tables/audit_log.sql" }, `ddl sql/tables/audit_log.sql creates public.audit_log, but the entry declares public.events`],
    [{ retentionKeepTable: "yes" }, `retentionKeepTable "yes" must be true or false`],
    [{ retentionSchema: "public" }, `retentionSchema "public" is the table's own schema`],
    [{ retentionSchema: "arch'ive", retention: "1 day" }, `retentionSchema "arch'ive" is not a valid schema name`],
    [{ retentionSchema: "archive" }, `retentionSchema is set but retention is not`],
    [{ startPartition: "last year" }, `startPartition "last year" must be a timestamp`],
    [{ startPartition: "2026-13-45" }, `startPartition "2026-13-45" must be a timestamp`],
    [{ partitionInterval: "1 day" }, `unknown key "partitionInterval"`],
  ])("rejects %j", (overrides, message) => {
    const found = one(overrides);
    expect(found.join("\n")).toContain(message);
    expect(found.every((p) => p.startsWith(`stack "prod"`))).toBe(true);
  });

  it("names the table in every message and collects all problems of a stack at once", () => {
    const found = problems({ tables: [events({ retention: "90 dayz", premake: 0 }), auditLog({ interval: "1 mnth" })] });
    expect(found).toEqual([
      expect.stringMatching(/^stack "prod", table public\.events: premake 0/),
      expect.stringMatching(/^stack "prod", table public\.events: retention "90 dayz"/),
      expect.stringMatching(/^stack "prod", table public\.audit_log: interval "1 mnth" is not a PostgreSQL interval/),
    ]);
  });

  it("rejects duplicate table names", () => {
    expect(problems({ tables: [events(), events({ retention: "1 day" })] })).toEqual([
      `stack "prod", table public.events: is declared twice; each table may appear once in partman-stack:tables`,
    ]);
  });

  it("requires name, control and interval (ddl is optional: an existing table can be migrated without one)", () => {
    const found = problems({ tables: [{}] });
    expect(found.some((p) => p.includes("ddl"))).toBe(false);
    for (const key of ["name", "control", "interval"]) expect(found).toContain(`stack "prod", table #1: ${key} is required${key === "interval" ? `: a PostgreSQL interval such as "1 day", "1 week" or "1 month"` : ""}`);
  });

  it("applies the documented defaults", () => {
    const spec = validateStack("dev", REPO_ROOT, { tables: [{ name: "public.events", ddl: "sql/tables/events.sql", control: "created_at", interval: "1 week" }] });
    expect(spec.tables[0]).toMatchObject({
      schema: "public",
      table: "events",
      premake: 4,
      retention: null,
      retentionKeepTable: false,
      retentionSchema: null,
      startPartition: null,
      defaultPartition: true,
      infiniteTimePartitions: true,
      interval: { text: "1 week", months: 0, days: 7, microseconds: 0 },
    });
    expect(spec.tables[0].ddlSql).toContain("PARTITION BY RANGE (created_at)");
    expect(spec.maintenance).toEqual({
      enabled: true,
      schedule: "0 * * * *",
      jobName: "partman-maintenance",
      analyze: false,
      lockTimeout: { text: "200ms", months: 0, days: 0, microseconds: 200_000 },
      maxLockWait: { text: "1 min", months: 0, days: 0, microseconds: 60_000_000 },
    });
    expect(spec.database).toEqual({ mode: "local", database: "partman_stack", partmanVersion: null });
  });

  it("accepts digit strings for premake, as `pulumi config set --path` may store them", () => {
    expect(validateStack("dev", REPO_ROOT, { tables: [events({ premake: "7" })] }).tables[0].premake).toBe(7);
  });
});

describe("integer-range tables", () => {
  const ids = (overrides: Record<string, unknown>) => problems({ tables: [jobLog(overrides)] });

  it.each([
    [{ interval: "1 day" }, `stack "prod", table public.job_log: interval "1 day" is a time interval, but control column id is bigint: an integer-range set's interval is the number of ids per partition, e.g. interval: 100000`],
    [{ interval: -5 }, `interval -5 must be a whole number ≥ 1 on an integer-range set (control column id is bigint): the number of ids per partition, e.g. interval: 100000`],
    [{ interval: 0 }, `interval 0 must be a whole number ≥ 1`],
    [{ interval: 1000.5 }, `interval 1000.5 must be a whole number ≥ 1`],
    [{ interval: "10.5" }, `interval "10.5" must be a whole number ≥ 1`],
    [{ retention: "30 days" }, `retention "30 days" is a time interval, but control column id is bigint: an integer-range set's retention is how many ids below the highest one to keep, e.g. retention: 1000000`],
    [{ retention: -1000 }, `retention -1000 must be a whole number ≥ 1 on an integer-range set`],
    [{ retention: 2500 }, `retention 2500 is not a multiple of interval 1000: partitions expire whole, so write a multiple, e.g. retention: 3000 (3 partition(s) of ids)`],
    [{ startPartition: "2026-01-01" }, `startPartition "2026-01-01" must be a whole number ≥ 0 on an integer-range set (control column id is bigint): the id the first partition holds, e.g. startPartition: 0`],
    [{ startPartition: -1 }, `startPartition -1 must be a whole number ≥ 0`],
    [{ interval: undefined }, `interval is required: on an integer-range set the number of ids per partition, e.g. interval: 100000`],
    [{ infiniteTimePartitions: false }, `infiniteTimePartitions false means nothing on an integer-range set (control column id is bigint) without time sub-partitions: its partitions are made ahead of the highest id, never of now(), so no new ids means no new partitions already; remove infiniteTimePartitions`],
  ])("rejects %j, naming the key, the problem and the fix", (overrides, message) => {
    const found = ids(overrides);
    expect(found.join("\n")).toContain(message);
    expect(found.every((p) => p.startsWith(`stack "prod", table public.job_log: `))).toBe(true);
  });

  it("refuses an interval or retention larger than the control column's integer type holds", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-ids-"));
    try {
      fs.writeFileSync(path.join(dir, "t.sql"), "CREATE TABLE public.t (id smallint NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);");
      expect(problems({ tables: [{ name: "public.t", ddl: "t.sql", control: "id", interval: 100000, retention: 40000 }] }, dir)).toEqual([
        `stack "prod", table public.t: interval 100000 is more than a smallint column holds (32767): write a smaller interval, or make the control column a bigint`,
        `stack "prod", table public.t: retention 40000 is more than a smallint column holds (32767): write a smaller retention, or make the control column a bigint`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes interval, retention and startPartition as ids, from YAML numbers or digit strings", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [jobLog({ interval: "100000", retention: 300000, startPartition: "0" })] });
    expect(spec.tables[0]).toMatchObject({ kind: "id", interval: { ids: 100000, text: "100000" }, retention: { ids: 300000, text: "300000" }, startPartition: "0" });
  });

  it("without a DDL file (a live table to migrate), reads the set's kind from the interval's form", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [{ name: "public.jobs", control: "id", interval: 50000, retention: 100000 }] });
    expect(spec.tables[0]).toMatchObject({ kind: "id", interval: { ids: 50000 } });
    expect(problems({ tables: [{ name: "public.jobs", control: "id", interval: 50000, retention: "7 days" }] })).toEqual([
      expect.stringContaining(`retention "7 days" is a time interval, but interval is a number: an integer-range set's retention is how many ids below the highest one to keep`),
    ]);
  });
});

describe("sub-partitions", () => {
  const sub = (subpartition: unknown, overrides: Record<string, unknown> = {}) => problems({ tables: [tenantAudit({ subpartition, ...overrides })] });

  it("validates subpartition like the top level: its control column against the DDL file, its interval by the column's type", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [tenantAudit({ subpartition: { control: "created_at", interval: "1 day", premake: 3, retention: "30 days" } })] });
    expect(spec.tables[0]).toMatchObject({
      kind: "id", control: "tenant_id", interval: { ids: 100 },
      subpartition: { kind: "time", control: "created_at", interval: { text: "1 day" }, premake: 3, retention: { text: "30 days" }, retentionKeepTable: false, epoch: null },
    });
    expect(validateStack("prod", REPO_ROOT, { tables: [tenantAudit({ subpartition: undefined })] }).tables[0].subpartition).toBeNull();
  });

  it("lets an integer-range set with time sub-partitions stop making days in idle ranges (infiniteTimePartitions: false)", () => {
    const days = { control: "created_at", interval: "1 day", premake: 3 };
    expect(validateStack("prod", REPO_ROOT, { tables: [tenantAudit({ subpartition: days, infiniteTimePartitions: false })] }).tables[0].infiniteTimePartitions).toBe(false);
    expect(sub(undefined, { infiniteTimePartitions: false }).join("\n")).toContain("infiniteTimePartitions false means nothing on an integer-range set (control column tenant_id is bigint) without time sub-partitions");
  });

  it.each([
    ["daily", `stack "prod", table public.tenant_audit: subpartition "daily" must be a mapping (control, interval, premake, retention, retentionKeepTable, epoch)`],
    [{ control: "created_at", interval: "1 day", premade: 2 }, `subpartition.premade: unknown key (known: control, interval, premake, retention, retentionKeepTable, epoch)`],
    [{ interval: "1 day" }, `subpartition.control is required`],
    [{ control: "tenant_id", interval: 10 }, `subpartition.control "tenant_id" is the table's own control column; sub-partition by another column`],
    [{ control: "created", interval: "1 day" }, `subpartition.control "created" is not a column of the ddl file (columns: id, tenant_id, action, created_at)`],
    [{ control: "action", interval: "1 day" }, `subpartition.control column action is text; sub-partitions need timestamptz, timestamp or date (by time) or smallint, integer or bigint (by ranges of ids)`],
    [{ control: "created_at", interval: 1000 }, `subpartition.interval 1000 is a number of ids, but control column created_at is timestamptz`],
    [{ control: "created_at", interval: "1 dya" }, `subpartition.interval "1 dya" is not a PostgreSQL interval`],
    [{ control: "created_at", interval: "1 day", retention: 30 }, `subpartition.retention 30 is a number of ids, but control column created_at is timestamptz`],
    [{ control: "created_at", interval: "1 day", premake: 0 }, `subpartition.premake 0 must be a whole number ≥ 1`],
    [{ control: "created_at", interval: "1 day", premake: 5000 }, `subpartition.premake 5000 is more than 1000 (sub-partitions made ahead in each partition)`],
    [{ control: "created_at", interval: "1 day", epoch: "seconds" }, `subpartition.epoch: seconds needs a bigint control column (or integer), but it is timestamptz`],
  ])("rejects subpartition %j", (subpartition, message) => {
    expect(sub(subpartition).join("\n")).toContain(message);
  });

  it("needs sub-partitions narrower than the partitions they split (both by time or both by ids), their control column in the primary key", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-sub-"));
    try {
      fs.writeFileSync(path.join(dir, "t.sql"), "CREATE TABLE public.t (at timestamptz NOT NULL, seen timestamptz NOT NULL) PARTITION BY RANGE (at);");
      const t = (interval: string) => problems({ tables: [{ name: "public.t", ddl: "t.sql", control: "at", interval: "1 month", subpartition: { control: "seen", interval } }] }, dir).join("\n");
      expect(t("1 month")).toContain(`subpartition.interval "1 month" must be shorter than the table's interval "1 month"`);
      expect(t("1 week")).toContain(`subpartition.interval "1 week": weeks do not divide months or years`);
      fs.writeFileSync(path.join(dir, "t.sql"), "CREATE TABLE public.t (at timestamptz NOT NULL, seen timestamptz NOT NULL, PRIMARY KEY (at)) PARTITION BY RANGE (at);");
      expect(t("1 day")).toContain(`subpartition.control column seen: the primary key (at) must include it`);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
    expect(sub({ control: "id", interval: 100 }).join("\n")).toContain(`subpartition.interval 100 must be smaller than the table's interval 100`);
  });
});

describe("bounds on magnitudes, before any SQL", () => {
  const DAY = 86_400_000;
  const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString().slice(0, 10);

  it("refuses a startPartition that has create_parent make more than 1000 partitions at once, naming the latest start that fits", () => {
    const [found] = one({ startPartition: "1990-01-01" });
    expect(found).toMatch(
      /^stack "prod", table public\.events: startPartition "1990-01-01" has create_parent make about \d{5} partitions of "1 day" at once \(from it up to now plus premake 4\), more than 1000: it makes them in one transaction, each a table locked until it commits, and thousands exhaust the server's lock table; start at "(\d{4}-\d{2}-\d{2})" or later, or declare a wider interval$/,
    );
    const later = /start at "([\d-]+)"/.exec(found)![1];
    expect(validateStack("prod", REPO_ROOT, { tables: [events({ startPartition: later })] }).tables[0].startPartition).toBe(later);
    // The same history in months is 3 dozen partitions a year: accepted.
    expect(validateStack("prod", REPO_ROOT, { tables: [events({ startPartition: "1990-01-01", interval: "1 month" })] }).tables[0].startPartition).toBe("1990-01-01");
    expect(validateStack("prod", REPO_ROOT, { tables: [events({ startPartition: daysAgo(900) })] }).tables[0].startPartition).toBe(daysAgo(900));
    expect(one({ startPartition: daysAgo(1000) }).join("\n")).toContain("more than 1000");
  });

  it("refuses a startPartition before 1900, and premake intervals that reach past 9999 (partitions are named by four-digit years)", () => {
    expect(one({ startPartition: "1850-01-01", interval: "1 year" })).toEqual([
      `stack "prod", table public.events: startPartition "1850-01-01" must be from 1900-01-01 to 9999-12-31: partitions are named by four-digit years, and a set's history begins at most in 1900`,
    ]);
    expect(one({ interval: "100 years", premake: 100 })).toEqual([
      expect.stringMatching(/^stack "prod", table public\.events: premake 100 of interval "100 years" reaches 12\d{3}: partitions are named by four-digit years, so they must end by 9999-12-31; declare a smaller premake, or a narrower interval$/),
    ]);
  });

  it.each([
    [{ interval: "99999999999999999999 days" }, `interval "99999999999999999999 days" is not a PostgreSQL interval: "99999999999999999999" is more than 9007199254740991, the largest amount read exactly; write e.g. "90 days", "1 week" or "13 months"`],
    [{ interval: "2147483648 months" }, `interval "2147483648 months" is not a PostgreSQL interval: it is more than PostgreSQL's interval holds (2147483647 months, and as many days); write e.g. "90 days", "1 week" or "13 months"`],
    [{ retention: "10000000 hours" }, `retention "10000000 hours" is not a PostgreSQL interval: its hours, minutes and seconds come to more than about 285 years (9007199254740991 microseconds); write e.g. "90 days", "1 week" or "13 months"`],
    [{ interval: "500 milliseconds" }, `interval "500 milliseconds" is shorter than 1 second, pg_partman's shortest partition interval; declare at least "1 second"`],
    [{ interval: "101 years" }, `interval "101 years" is longer than 100 years, the widest partition partman-stack makes; declare at most "100 years"`],
    [{ retention: "5001 years" }, `retention "5001 years" is longer than 5000 years: maintenance computes now() - retention, and PostgreSQL's timestamps begin in 4713 BC; to keep every partition, remove retention`],
  ])("refuses %j, naming the limit and the fix", (overrides, message) => {
    expect(one(overrides)).toEqual([`stack "prod", table public.events: ${message}`]);
  });

  it("keeps the widest and narrowest intervals and retentions inside those bounds", () => {
    for (const overrides of [{ interval: "1 second" }, { interval: "100 years", premake: 1 }, { retention: "5000 years" }, { interval: "1 month", retention: "99 years" }]) {
      expect(validateStack("prod", REPO_ROOT, { tables: [events(overrides)] }).tables).toHaveLength(1);
    }
    expect(problems({ tables: [tenantAudit({ subpartition: { control: "created_at", interval: "500ms" } })] })).toEqual([
      `stack "prod", table public.tenant_audit: subpartition.interval "500ms" is shorter than 1 second, pg_partman's shortest partition interval; declare at least "1 second"`,
    ]);
  });

  it("refuses id counts past Number.MAX_SAFE_INTEGER with their own message, and a startPartition past the control column's type", () => {
    expect(problems({ tables: [jobLog({ interval: 99999999999999999999 })] })).toEqual([
      `stack "prod", table public.job_log: interval 100000000000000000000 is more than 9007199254740991, the largest whole number partman-stack reads exactly: write a smaller interval`,
    ]);
    expect(problems({ tables: [jobLog({ retention: "99999999999999999999" })] })).toEqual([
      `stack "prod", table public.job_log: retention "99999999999999999999" is more than 9007199254740991, the largest whole number partman-stack reads exactly: write a smaller retention`,
    ]);
    expect(problems({ tables: [jobLog({ startPartition: "99999999999999999999" })] })).toEqual([
      `stack "prod", table public.job_log: startPartition "99999999999999999999" is more than 9007199254740991, the largest whole number partman-stack reads exactly: write a smaller startPartition`,
    ]);
    expect(problems({ tables: [campaignParticipants({ startPartition: 2147483648 })] })).toEqual([
      `stack "prod", table public.campaign_participants: startPartition 2147483648 is more than a integer column holds (2147483647): write a smaller startPartition, or make the control column a bigint`,
    ]);
  });

  it("refuses sub-partitions create_sub_parent would make more than 1000 of at once", () => {
    // Ranges of tenants split by day: each of premake + 1 ranges gets the days either side of now.
    expect(problems({ tables: [tenantAudit({ premake: 200, subpartition: { control: "created_at", interval: "1 day", premake: 3 } })] })).toEqual([
      `stack "prod", table public.tenant_audit: subpartition.premake 3 has create_sub_parent make about 1407 sub-partitions at once (201 partitions, 7 in each), more than 1000: ` +
        `it makes them in one transaction, each a table locked until it commits; declare a smaller subpartition.premake or premake, a later startPartition, or a wider interval`,
    ]);
    expect(validateStack("prod", REPO_ROOT, { tables: [tenantAudit({ premake: 100, subpartition: { control: "created_at", interval: "1 day", premake: 3 } })] }).tables).toHaveLength(1);
    // Days inside months: only the months around now get more than one.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-subcount-"));
    try {
      fs.writeFileSync(path.join(dir, "t.sql"), "CREATE TABLE public.t (at timestamptz NOT NULL, seen timestamptz NOT NULL) PARTITION BY RANGE (at);");
      const days = (premake: number) => ({ name: "public.t", ddl: "t.sql", control: "at", interval: "1 month", subpartition: { control: "seen", interval: "1 day", premake } });
      expect(problems({ tables: [days(600)] }, dir).join("\n")).toMatch(/subpartition\.premake 600 has create_sub_parent make about \d+ sub-partitions at once \(\d+ partitions, one in each and 1201 around now\), more than 1000/);
      expect(validateStack("prod", dir, { tables: [days(300)] }).tables).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe("list tables", () => {
  const list = (overrides: Record<string, unknown>) => problems({ tables: [campaignParticipants(overrides)] });

  it("takes one value per partition (interval 1 by default), retention and startPartition as counts of values", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [campaignParticipants({ retention: 100, startPartition: 1 })] });
    expect(spec.tables[0]).toMatchObject({ kind: "id", type: "list", interval: { ids: 1, text: "1" }, retention: { ids: 100 }, startPartition: "1", premake: 2 });
    expect(validateStack("prod", REPO_ROOT, { tables: [campaignParticipants({ interval: 1 })] }).tables[0]).toMatchObject({ type: "list", interval: { ids: 1 } });
    expect(validateStack("prod", REPO_ROOT, { tables: [jobLog()] }).tables[0]).toMatchObject({ kind: "id", type: "range" });
  });

  it.each([
    [{ interval: 10 }, `stack "prod", table public.campaign_participants: interval 10 must be 1 on a list set (one partition per value); remove interval, or type: range to partition by ranges of ids`],
    [{ interval: "1 day" }, `interval "1 day" must be 1 on a list set (one partition per value)`],
    [{ type: "hash" }, `type "hash" must be range (partitions holding ranges of the control column, the default) or list (one partition per integer value)`],
    [{ epoch: "seconds" }, `type: list partitions by integer values, but epoch makes this a time set: remove epoch, or remove type: list`],
    [{ uuidv7: true }, `type: list partitions by integer values, but uuidv7 makes this a time set: remove uuidv7, or remove type: list`],
    [{ control: "joined_at" }, `type: list needs a smallint, integer or bigint control column (one partition per value), but joined_at is timestamptz: remove type: list to partition by ranges`],
    [{ retention: "30 days" }, `retention "30 days" is a time interval, but control column campaign_id is integer: a list set's retention is how many values below the highest one to keep, e.g. retention: 100`],
    [{ retention: -1 }, `retention -1 must be a whole number ≥ 1 on a list set (control column campaign_id is integer): how many values below the highest one to keep, e.g. retention: 100`],
    [{ startPartition: "2026-01-01" }, `startPartition "2026-01-01" must be a whole number ≥ 0 on a list set (control column campaign_id is integer): the value the first partition holds, e.g. startPartition: 1`],
    [{ type: "range", interval: 100 }, `ddl sql/tables/campaign_participants.sql is PARTITION BY LIST (campaign_id), declared control is campaign_id: write PARTITION BY RANGE (campaign_id), or declare type: list`],
  ])("rejects %j, naming the key, the problem and the fix", (overrides, message) => {
    const found = list(overrides);
    expect(found.join("\n")).toContain(message);
    expect(found.every((p) => p.startsWith(`stack "prod", table public.campaign_participants: `))).toBe(true);
  });

  it("refuses type: list on a table whose DDL is PARTITION BY RANGE, and reads a live table to migrate as a list set", () => {
    expect(problems({ tables: [jobLog({ type: "list", interval: undefined })] })).toEqual([
      `stack "prod", table public.job_log: ddl sql/tables/job_log.sql is PARTITION BY RANGE (id), declared type: list, control is id: write PARTITION BY LIST (id)`,
    ]);
    const spec = validateStack("prod", REPO_ROOT, { tables: [{ name: "public.signups", control: "campaign_id", type: "list", retention: 10 }] });
    expect(spec.tables[0]).toMatchObject({ kind: "id", type: "list", interval: { ids: 1 }, retention: { ids: 10 } });
  });
});

describe("epoch tables", () => {
  const epoch = (overrides: Record<string, unknown>) => problems({ tables: [sensorReadings(overrides)] });

  it.each([
    [{ epoch: "ms" }, `stack "prod", table public.sensor_readings: epoch "ms" must be one of seconds, milliseconds, microseconds, nanoseconds: the unit of the epoch times the control column holds`],
    [{ interval: 86400000 }, `interval 86400000 is a number of ids, but control column holds epoch milliseconds: write a PostgreSQL interval such as "1 day"`],
    [{ retention: 1000 }, `retention 1000 is a number of ids, but control column holds epoch milliseconds`],
    [{ startPartition: 1764115200000 }, `startPartition 1764115200000 must be a timestamp, e.g. "2026-01-01"`],
    [{ control: "sensor_id" }, `epoch: milliseconds needs a bigint control column, but it is integer: make it bigint, or remove epoch to partition by ranges of ids`],
  ])("rejects %j, naming the key, the problem and the fix", (overrides, message) => {
    const found = epoch(overrides);
    expect(found.join("\n")).toContain(message);
    expect(found.every((p) => p.startsWith(`stack "prod", table public.sensor_readings: `))).toBe(true);
  });

  it("refuses epoch on a time column, and takes seconds on an integer one", () => {
    expect(problems({ tables: [events({ epoch: "seconds" })] })).toEqual([
      `stack "prod", table public.events: epoch: seconds needs a bigint control column (or integer), but it is timestamptz: make it bigint, or remove epoch to partition by its times`,
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-epoch-"));
    try {
      fs.writeFileSync(path.join(dir, "t.sql"), "CREATE TABLE public.t (at integer NOT NULL, PRIMARY KEY (at)) PARTITION BY RANGE (at);");
      const spec = validateStack("prod", dir, { tables: [{ name: "public.t", ddl: "t.sql", control: "at", epoch: "seconds", interval: "1 week" }] });
      expect(spec.tables[0]).toMatchObject({ kind: "time", epoch: "seconds", interval: { days: 7 } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes interval, retention and startPartition as times on a bigint holding epoch times", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [sensorReadings({ retention: "30 days", startPartition: "2026-01-01" })] });
    expect(spec.tables[0]).toMatchObject({ kind: "time", epoch: "milliseconds", interval: { text: "1 day" }, retention: { text: "30 days" }, startPartition: "2026-01-01" });
  });
});

describe("UUIDv7 tables", () => {
  const uuid = (overrides: Record<string, unknown>) => problems({ tables: [userEvents(overrides)] });

  it.each([
    [{ uuidv7: "yes" }, `uuidv7 "yes" must be true or false`],
    [{ uuidv7: false }, `control column id is uuid; partitioning needs timestamptz, timestamp or date (by time), smallint, integer or bigint (by ranges of ids), or uuid with uuidv7: true (by the time in UUIDv7 keys)`],
    [{ timeEncoder: "app.enc", timeDecoder: "app.dec" }, `uuidv7: true uses pg_partman's uuid7_time_encoder and uuid7_time_decoder; remove timeEncoder and timeDecoder, or uuidv7`],
    [{ uuidv7: undefined, timeEncoder: "app.enc" }, `timeDecoder is missing: timeEncoder and timeDecoder go together; name a function taking the control column's value as text and returning a timestamptz, e.g. timeDecoder: "app.time_from_key"`],
    [{ uuidv7: undefined, timeEncoder: "app.enc(now()); drop table x", timeDecoder: "app.dec" }, `timeEncoder "app.enc(now()); drop table x" must name a function taking a timestamptz`],
    [{ control: "user_id" }, `uuidv7 needs a uuid control column, but it is bigint: remove uuidv7 to partition by ranges of ids`],
    [{ interval: 1000 }, `interval 1000 is a number of ids, but control column id is uuid`],
    [{ startPartition: 5 }, `startPartition 5 must be a timestamp`],
  ])("rejects %j, naming the key, the problem and the fix", (overrides, message) => {
    const found = uuid(overrides);
    expect(found.join("\n")).toContain(message);
    expect(found.every((p) => p.startsWith(`stack "prod", table public.user_events: `))).toBe(true);
  });

  it("takes interval, retention and startPartition as times; named functions as identifiers", () => {
    const spec = validateStack("prod", REPO_ROOT, { tables: [userEvents({ retention: "30 days", startPartition: "2026-01-01" })] });
    expect(spec.tables[0]).toMatchObject({ kind: "time", timeCodec: "uuidv7", epoch: null, interval: { text: "1 day" }, retention: { text: "30 days" }, startPartition: "2026-01-01" });
    const named = validateStack("prod", REPO_ROOT, { tables: [userEvents({ uuidv7: undefined, timeEncoder: "app.id_at", timeDecoder: "id_time" })] });
    // A bare name is the table's schema's: it must not depend on the search_path it is called under.
    expect(named.tables[0]).toMatchObject({ kind: "time", timeCodec: { encoder: "app.id_at", decoder: "public.id_time" } });
  });
});

describe("DDL files", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const project = (files: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-ddl-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    return dir;
  };
  const ddlProblems = (sql: string) => problems({ tables: [events({ ddl: "t.sql" })] }, project({ "t.sql": sql }));

  it.each([
    [`CREATE TABLE events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);`, `CREATE TABLE events must be schema-qualified (public.events)`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz) PARTITION BY RANGE (created_at);`, `control column created_at must be NOT NULL`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL);`, `CREATE TABLE must end with PARTITION BY RANGE (created_at)`],
    [`CREATE TABLE public.events (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (id);`, `is PARTITION BY RANGE (id), declared control is created_at`],
    [`CREATE TABLE public.events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);`, `the primary key (id) must include the control column created_at`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at); DROP TABLE public.other;`, `it holds "DROP TABLE public.other …"`],
    [`CREATE TABLE public.a (x int); CREATE TABLE public.events (created_at date NOT NULL) PARTITION BY RANGE (created_at);`, `exactly one CREATE TABLE statement; it holds 2`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at); CREATE INDEX CONCURRENTLY i ON public.events (id);`, `CREATE INDEX CONCURRENTLY cannot run in the transaction`],
    [`-- événements\nCREATE TABLE public.events (\n  id bigint,,\n  created_at timestamptz NOT NULL\n) PARTITION BY RANGE (created_at);`, `ddl t.sql: PostgreSQL cannot parse it: syntax error at or near "," (line 3, column 13)`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at); ALTER TABLE public.events ALTER COLUMN id DROP DEFAULT;`, `it holds an ALTER TABLE … DROP`],
    [`CREATE TABLE public.events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at); ALTER TABLE public.events RENAME TO old_events;`, `it holds "ALTER TABLE public.events …", which renames or moves something`],
  ])("rejects %s", (sql, message) => {
    expect(ddlProblems(sql).join("\n")).toContain(message);
  });

  it("reads quoted names, comments, constraints and defaults with commas and parentheses", () => {
    const sql = `-- a comment; with a semicolon
      /* block ( comment */
      CREATE TABLE IF NOT EXISTS "public"."events" (
        id bigint GENERATED BY DEFAULT AS IDENTITY,
        note text DEFAULT 'a, b; (c)',
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        CONSTRAINT events_pk PRIMARY KEY (id, created_at),
        CHECK (id > 0)
      ) PARTITION BY RANGE ("created_at");
      COMMENT ON TABLE public.events IS 'the log; of events';`;
    const dir = project({ "t.sql": sql });
    expect(validateStack("s", dir, { tables: [events({ ddl: "t.sql" })] }).tables[0].control).toBe("created_at");
  });

  it("rejects a symlink that leads outside the project", () => {
    const outside = project({ "x.sql": fs.readFileSync(path.join(REPO_ROOT, "sql/tables/events.sql"), "utf8") });
    const dir = project({});
    fs.symlinkSync(path.join(outside, "x.sql"), path.join(dir, "link.sql"));
    expect(problems({ tables: [events({ ddl: "link.sql" })] }, dir).join("\n")).toContain(`ddl "link.sql" is a link to`);
  });
});

describe("maintenance", () => {
  it.each([
    [{ schedule: "0 0 * * * *" }, `stack "prod", partman-stack:maintenance: schedule "0 0 * * * *" has 6 field(s); pg_cron takes 5 (minute hour day-of-month month day-of-week) and has no seconds field`],
    [{ schedule: "@hourly" }, `schedule "@hourly" is a macro`],
    [{ schedule: "30 seconds" }, `second-based schedules need pg_cron 1.5 or later`],
    [{ schedule: "61 * * * *" }, `minute field "61" has 61, outside 0-59`],
    [{ schedule: "0 * * foo *" }, `month field "foo" has "foo", which is not a month`],
    [{ schedule: "*/0 * * * *" }, `has a step of 0`],
    [{ jobName: "x'; select 1; --" }, `jobName "x'; select 1; --" must be 1-63 letters`],
    [{ analyze: "sometimes" }, `analyze "sometimes" must be true or false`],
    [{ every: "hour" }, `unknown key "every"`],
    [{ lockTimeout: "fast" }, `lockTimeout "fast" is not a PostgreSQL interval: cannot read "fast"; write e.g. "200ms", "5 s" or "1 min"`],
    [{ lockTimeout: "5ms" }, `lockTimeout "5ms" must be between 10ms and 1 min: it is how long one attempt at a table's lock may hold other sessions up (default "200ms")`],
    [{ lockTimeout: "1 day" }, `lockTimeout "1 day" must be a duration of milliseconds, seconds or minutes, e.g. "200ms" or "30 s"`],
    [{ lockTimeout: "2 s", maxLockWait: "1 s" }, `maxLockWait "1 s" must be at least lockTimeout ("2 s") and at most 1 hour`],
    [{ maxLockWait: "2 hours" }, `maxLockWait "2 hours" must be at least lockTimeout ("200ms") and at most 1 hour`],
    [{ maxLockWait: 30 }, `maxLockWait 30 must be a PostgreSQL interval written as text`],
  ])("rejects %j", (maintenance, message) => {
    expect(problems({ maintenance }).join("\n")).toContain(message);
  });

  it("knows each schedule's longest gap between runs, for verify's staleness check", () => {
    expect(cronPeriodSeconds("0 * * * *")).toBe(3600);
    expect(cronPeriodSeconds("*/15 * * * *")).toBe(900);
    expect(cronPeriodSeconds("* * * * *")).toBe(60);
    expect(cronPeriodSeconds("30 2 * * *")).toBe(86_400);
    expect(cronPeriodSeconds("0 3 * * sun")).toBe(7 * 86_400);
    expect(cronPeriodSeconds("0 0,12 * * 1-5")).toBe(60 * 3600);
  });

  it("takes lock settings as PostgreSQL durations", () => {
    const m = validateStack("s", REPO_ROOT, { maintenance: { lockTimeout: "500 ms", maxLockWait: "5 min" } }).maintenance;
    expect([m.lockTimeout.text, m.lockTimeout.microseconds, m.maxLockWait.text, m.maxLockWait.microseconds]).toEqual(["500 ms", 500_000, "5 min", 300_000_000]);
  });

  it("accepts ranges, lists, steps and names", () => {
    const spec = validateStack("s", REPO_ROOT, { maintenance: { schedule: "*/15  0-6,22,23 1-31/2 jan-dec mon-fri" } });
    expect(spec.maintenance.schedule).toBe("*/15 0-6,22,23 1-31/2 jan-dec mon-fri");
  });
});

describe("database", () => {
  it.each([
    [{ mode: "cloud" }, `mode "cloud" must be local (the embedded cluster), docker`],
    [{ mode: "external", host: "db", database: "app", user: "me", password: "hunter2" }, `password must not be in a stack file: set PGPASSWORD`],
    [{ mode: "external" }, `host is required for mode external`],
    [{ mode: "external", host: "db", database: "app", user: "me", port: 70000 }, `port 70000 must be a TCP port`],
    [{ mode: "external", host: "db", database: "app", user: "me", sslmode: "on" }, `sslmode "on" must be one of disable, prefer, require`],
    [{ mode: "external", host: "db", database: "app", user: "me", sslRootCert: 5 }, `sslRootCert 5 must be the path of a PEM file, relative to the project root`],
    [{ mode: "external", host: "db", database: "app", user: "me", sslRootCert: " " }, `sslRootCert " " must be the path of a PEM file, relative to the project root`],
    [
      { mode: "external", host: "db", database: "app", user: "me", sslmode: "disable", sslRootCert: "ca.pem" },
      `sslRootCert is given but sslmode is disable, which never uses it: set sslmode to verify-full (or verify-ca), or remove sslRootCert`,
    ],
    [{ mode: "local", sslRootCert: "ca.pem" }, `unknown key "sslRootCert" for mode local (known: mode, database, partmanVersion)`],
    [{ mode: "local", database: "a;b" }, `database "a;b" is not accepted: it contains a quote, semicolon`],
    [{ mode: "local", partmanVersion: 5.2 }, `partmanVersion 5.2 must be a full extension version such as "5.2.4"`],
  ])("rejects %j", (database, message) => {
    expect(problems({ database }).join("\n")).toContain(message);
  });

  it("refuses, before any connection, a shape the declared partmanVersion cannot make, naming the version needed; a version that can is accepted", () => {
    const at = (partmanVersion: string, ...tables: Record<string, unknown>[]) => ({ database: { mode: "local", partmanVersion }, tables });
    expect(problems(at("4.7.2", campaignParticipants(), userEvents(), sensorReadings({ epoch: "microseconds" }), events()))).toEqual([
      `stack "prod": table public.campaign_participants: type: list (one partition per value) needs pg_partman 5.1 or later (partmanVersion: 4.7.2, which partitions only by ranges); upgrade pg_partman, or declare ranges of ids (type: range, interval ≥ 2)`,
      `stack "prod": table public.user_events: uuidv7 (UUIDv7 keys) needs pg_partman 5.2 or later (partmanVersion: 4.7.2, which partitions only time and integer columns); upgrade pg_partman, or partition by a timestamptz column`,
      `stack "prod": table public.sensor_readings: epoch microseconds needs pg_partman 5.0 or later (partmanVersion: 4.7.2, which knows seconds, milliseconds and nanoseconds); upgrade pg_partman, or store another unit`,
    ]);
    expect(problems(at("5.1.0", campaignParticipants(), userEvents()))).toEqual([expect.stringContaining(`uuidv7 (UUIDv7 keys) needs pg_partman 5.2 or later (partmanVersion: 5.1.0`)]);
    expect(problems(at("5.0.1", tenantAudit({ subpartition: { control: "created_at", interval: "1 day", epoch: undefined } }), campaignParticipants()))).toEqual([
      expect.stringContaining(`type: list (one partition per value) needs pg_partman 5.1 or later (partmanVersion: 5.0.1`),
    ]);
    expect(validateStack("prod", REPO_ROOT, at("5.2.4", campaignParticipants(), userEvents(), sensorReadings({ epoch: "microseconds" }))).tables).toHaveLength(3);
    // Undeclared: the installed version decides, at plan.
    expect(validateStack("prod", REPO_ROOT, { tables: [campaignParticipants(), userEvents()] }).tables).toHaveLength(2);
  });

  it("defaults an external server to port 5432 and sslmode require", () => {
    const spec = validateStack("s", REPO_ROOT, { database: { mode: "external", host: "db", database: "app", user: "owner" } });
    expect(spec.database).toEqual({ mode: "external", host: "db", port: 5432, database: "app", user: "owner", sslmode: "require", sslRootCert: null, cronDatabase: "postgres", partmanVersion: null });
  });

  it("takes sslRootCert as a path relative to the project root, not read until a connection is made", () => {
    const spec = validateStack("s", REPO_ROOT, { database: { mode: "external", host: "db", database: "app", user: "owner", sslmode: "verify-full", sslRootCert: "certs/rds-ca.pem" } });
    expect(spec.database).toMatchObject({ sslmode: "verify-full", sslRootCert: path.join(REPO_ROOT, "certs/rds-ca.pem") });
    const absolute = validateStack("s", REPO_ROOT, { database: { mode: "external", host: "db", database: "app", user: "owner", sslRootCert: "/etc/ssl/db-ca.pem" } });
    expect(absolute.database).toMatchObject({ sslmode: "require", sslRootCert: "/etc/ssl/db-ca.pem" });
  });
});

describe("stack files", () => {
  it("loads every shipped stack, each with its own retention and premake", () => {
    const retention = (stack: string) =>
      Object.fromEntries(loadStack(REPO_ROOT, stack).tables.map((t) => [t.table, `${t.interval.text}/${t.premake}/${t.retention?.text ?? "forever"}${t.retentionSchema ? `→${t.retentionSchema}` : ""}`]));
    expect(retention("local")).toEqual({ events: "1 day/7/7 days", audit_log: "1 day/7/14 days", job_log: "100000/4/1000000", user_events: "1 day/7/7 days", campaign_participants: "1/3/20" });
    expect(retention("dev")).toEqual({ events: "1 day/7/14 days", audit_log: "1 day/7/30 days", job_log: "100000/4/2000000", user_events: "1 day/7/14 days", campaign_participants: "1/3/50" });
    expect(retention("staging")).toEqual({ events: "1 day/7/30 days", audit_log: "1 month/3/90 days" });
    expect(retention("prod")).toEqual({ events: "1 week/4/90 days", audit_log: "1 month/3/13 months→archive" });
    expect(loadStack(REPO_ROOT, "local").database.mode).toBe("local");
    expect(loadStack(REPO_ROOT, "dev").database.mode).toBe("docker");
    expect(loadStack(REPO_ROOT, "prod").database).toMatchObject({ mode: "external", sslmode: "verify-full" });
  });

  it("names the existing stacks when a stack file is missing, and refuses path-like stack names", () => {
    expect(() => readStackConfig(REPO_ROOT, "qa")).toThrow(`stack "qa": no stack file stacks/Pulumi.qa.yaml; stacks in this project: dev, local, prod, staging`);
    expect(() => readStackConfig(REPO_ROOT, "../prod")).toThrow(`stack name "../prod" is not a Pulumi stack name`);
  });

  it("rejects an unknown partman-stack key and ignores other namespaces", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "partman-stack-file-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: partman-stack\nruntime: nodejs\nstackConfigDir: stacks\n");
      fs.mkdirSync(path.join(dir, "stacks"));
      fs.writeFileSync(path.join(dir, "stacks/Pulumi.x.yaml"), "config:\n  partman-stack:table: []\n  aws:region: eu-west-1\n");
      expect(() => readStackConfig(dir, "x")).toThrow(`unknown config key "partman-stack:table"`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
