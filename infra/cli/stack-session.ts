// Shared by every command that talks to a stack's database: load and validate the stack file,
// resolve its connection, and open the stack's session for the duration of one command.

import { findProjectRoot, loadStack } from "../config/stack-file";
import type { StackSpec } from "../config/types";
import { resolveConnection } from "../db/connection";
import { withSession, type Session } from "../db/session";

export interface StackOptions {
  stack: string;
  databaseUrl?: string;
  /** Progress lines (installing, starting the local cluster); stderr in the CLI. */
  log?: (line: string) => void;
  /** Project root; found from the working directory when absent. */
  root?: string;
  /** The command, as other sessions see it in pg_stat_activity. */
  command?: string;
}

export async function withStack<T>(opts: StackOptions, fn: (session: Session, spec: StackSpec) => Promise<T>): Promise<T> {
  const spec = loadStack(opts.root ?? findProjectRoot(), opts.stack);
  const config = await resolveConnection(spec, { databaseUrl: opts.databaseUrl, log: opts.log });
  const purpose = `${opts.command ?? "cli"} --stack ${spec.stack}`;
  return withSession(config, { owner: spec.roles.owner, purpose }, (session) => fn(session, spec));
}
