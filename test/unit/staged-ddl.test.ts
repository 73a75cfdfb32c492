// A table file made about the migration's staged copy: every reference to the table, qualified or
// not, names the copy; columns, indexes and other tables that share its name do not.

import { describe, expect, it } from "vitest";
import { parseSql, treeText } from "../../infra/config/sql-grammar";
import { stagedDdl, stagedStatement } from "../../infra/migrate/staged-ddl";

const events = { schema: "public", table: "events" };
const staged = (sql: string) => read(stagedStatement(events, sql));
// The rewritten statements are printed from their parse trees, in the printer's spacing and quoting
// and without words that only repeat a default (USING btree): they are compared as PostgreSQL reads
// them, tree for tree, which tells a qualified name from an unqualified one and "Events" from events.
const read = (sql: string | string[]) => [sql].flat().flatMap((s) => (parseSql(s).stmts ?? []).map((x) => treeText(x.stmt!)));
const COPY = `"partman_migrate"."events"`;

describe("stagedDdl", () => {
  it("rewrites qualified and unqualified references in every statement a table file may hold", () => {
    const file = `-- the table
CREATE TABLE public.events (id bigint, events text, parent bigint, created_at timestamptz, PRIMARY KEY (id, created_at),
  FOREIGN KEY (parent, created_at) REFERENCES events (id, created_at)) PARTITION BY RANGE (created_at);
CREATE INDEX events ON events (events);
CREATE UNIQUE INDEX IF NOT EXISTS events_x ON ONLY "public"."events" USING btree (events, created_at);
create index on Events(created_at);
ALTER TABLE ONLY events ADD CONSTRAINT events_check CHECK (events <> 'events');
ALTER TABLE IF EXISTS public . events ALTER COLUMN events SET STATISTICS 100;
COMMENT ON TABLE events IS 'events: the table';
COMMENT ON COLUMN events.events IS 'a column named like the table';
COMMENT ON COLUMN public.events.id IS 'qualified';
COMMENT ON CONSTRAINT events_check ON events IS 'c';
COMMENT ON INDEX events IS 'an index named like the table';
GRANT SELECT, INSERT ON events, public.other, TABLE_x TO events;
GRANT SELECT ON TABLE public.events TO reader;
GRANT USAGE ON SEQUENCE events TO reader`;
    expect(read(stagedDdl(events, file))).toEqual(read([
      `CREATE TABLE ${COPY} (id bigint, events text, parent bigint, created_at timestamptz, PRIMARY KEY (id, created_at),\n  FOREIGN KEY (parent, created_at) REFERENCES ${COPY} (id, created_at)) PARTITION BY RANGE (created_at)`,
      `CREATE INDEX events ON ${COPY} (events)`,
      `CREATE UNIQUE INDEX IF NOT EXISTS events_x ON ONLY ${COPY} USING btree (events, created_at)`,
      `create index on ${COPY}(created_at)`,
      `ALTER TABLE ONLY ${COPY} ADD CONSTRAINT events_check CHECK (events <> 'events')`,
      `ALTER TABLE IF EXISTS ${COPY} ALTER COLUMN events SET STATISTICS 100`,
      `COMMENT ON TABLE ${COPY} IS 'events: the table'`,
      `COMMENT ON COLUMN ${COPY}.events IS 'a column named like the table'`,
      `COMMENT ON COLUMN ${COPY}.id IS 'qualified'`,
      `COMMENT ON CONSTRAINT events_check ON ${COPY} IS 'c'`,
      `COMMENT ON INDEX events IS 'an index named like the table'`,
      `GRANT SELECT, INSERT ON ${COPY}, public.other, TABLE_x TO events`,
      `GRANT SELECT ON TABLE ${COPY} TO reader`,
      `GRANT USAGE ON SEQUENCE events TO reader`,
    ]));
  });

  it("leaves other tables, other schemas' tables and case-sensitive names alone", () => {
    expect(staged(`CREATE INDEX x ON other.events (id)`)).toEqual(read(`CREATE INDEX x ON other.events (id)`));
    expect(staged(`CREATE INDEX x ON "Events" (id)`)).toEqual(read(`CREATE INDEX x ON "Events" (id)`));
    expect(staged(`ALTER TABLE events_archive ADD FOREIGN KEY (e) REFERENCES agents (id)`)).toEqual(read(`ALTER TABLE events_archive ADD FOREIGN KEY (e) REFERENCES agents (id)`));
    expect(read(stagedStatement({ schema: "App", table: "Event Log" }, `CREATE INDEX ON "App"."Event Log" (a); `))).toEqual(read(`CREATE INDEX ON "partman_migrate"."Event Log" (a); `));
  });

  it("rewrites pg_get_indexdef output", () => {
    expect(staged(`CREATE UNIQUE INDEX events_run_id_key ON public.events USING btree (run_id)`)).toEqual(read(`CREATE UNIQUE INDEX events_run_id_key ON ${COPY} USING btree (run_id)`));
  });
});
