import { afterEach, beforeEach } from "vitest";
import type { Session } from "../../infra/db/session";
import { createTestDatabase, type TestDatabase } from "./database";
import { sessionFor } from "./spec";

/** Each test's own database (no pg_partman yet: the stack's apply creates the version it declares)
 *  and the session every front end opens on it; the hooks that open and drop them are registered here. */
export function testDatabase() {
  const fx = { db: undefined as unknown as TestDatabase, session: undefined as unknown as Session };
  beforeEach(async () => {
    fx.db = await createTestDatabase({ partman: null });
    fx.session = await sessionFor(fx.db);
  });
  afterEach(async () => {
    await fx.session.close();
    await fx.db.drop();
  });
  return fx;
}
