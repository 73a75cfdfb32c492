// Checks a server before anything is created on it: pg_partman available (in the wanted
// version), pg_cron preloaded with its files installed, and cron.database_name as the stack
// expects. Fails with the exact parameter, flag or package to fix. Runs at preview (check) when
// the server's address is known, and again at create.

import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS } from "../config/validate";
import { introspectServer } from "../engine/introspect";
import { serverProblems } from "../engine/server-problems";
import { hasUnknowns, sameJson, withInputsSession, type ConnectedInputs } from "./connection";
import { ProblemList } from "../config/errors";

export interface PreflightInputs extends ConnectedInputs {
  partmanVersion: string | null;
  /** false when maintenance is disabled: pg_cron is then not needed. */
  needCron: boolean;
  /** The database the program expects pg_cron in (cron.database_name). */
  cronDatabase: string;
}

export interface PreflightOutputs extends PreflightInputs {
  serverVersion: string;
  partmanAvailable: string[];
}

async function inspect(inputs: PreflightInputs): Promise<{ problems: string[]; outs: PreflightOutputs }> {
  // Checked as the admin: the owner role may not exist yet.
  const admin = { ...inputs, owner: null };
  return withInputsSession(admin, "ServerPreflight", async (session) => {
    const state = await introspectServer(session, DEFAULTS.maintenance.jobName);
    const problems = serverProblems(state, inputs.partmanVersion, inputs.needCron);
    if (inputs.needCron && state.cron.preloaded && state.cron.database !== inputs.cronDatabase) {
      problems.push(
        `pg_cron keeps its jobs in database ${state.cron.database} (cron.database_name) but stack ${inputs.stack} expects ${inputs.cronDatabase}: ` +
          `set database.cronDatabase: ${state.cron.database} in the stack file`,
      );
    }
    return { problems, outs: { ...inputs, serverVersion: state.serverVersion, partmanAvailable: state.partmanAvailable } };
  });
}

async function mustPass(inputs: PreflightInputs): Promise<PreflightOutputs> {
  const { problems, outs } = await inspect(inputs);
  if (problems.length > 0) throw new ProblemList(problems, () => `${inputs.connection.host}:${inputs.connection.port}/${inputs.connection.database} is not ready for partman-stack:`);
  return outs;
}

export const serverPreflightProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<PreflightInputs>, news: PreflightInputs) {
    // A server being created in this same update (the dev container) is checked at create.
    if (hasUnknowns(news.connection) || hasUnknowns(news.password)) return { inputs: news };
    try {
      const { problems } = await inspect(news);
      return { inputs: news, failures: problems.map((reason) => ({ property: "connection", reason })) };
    } catch (err) {
      return { inputs: news, failures: [{ property: "connection", reason: (err as Error).message }] };
    }
  },

  async diff(_id: string, olds: PreflightOutputs, news: PreflightInputs) {
    const keys = ["connection", "password", "partmanVersion", "needCron", "cronDatabase", "providerVersion"] as const;
    return { changes: keys.some((k) => !sameJson(olds[k], news[k])), replaces: [] };
  },

  async create(inputs: PreflightInputs) {
    const c = inputs.connection;
    return { id: `${c.host}:${c.port}/${c.database}`, outs: await mustPass(inputs) };
  },

  async read(id: string, props: PreflightOutputs) {
    return { id, props: (await inspect(props)).outs };
  },

  async update(_id: string, _olds: PreflightOutputs, news: PreflightInputs) {
    return { outs: await mustPass(news) };
  },

  async delete() {},
};

export class ServerPreflight extends pulumi.dynamic.Resource {
  declare readonly serverVersion: pulumi.Output<string>;

  constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(serverPreflightProvider, name, { serverVersion: undefined, partmanAvailable: undefined, ...args }, opts, "partman", "ServerPreflight");
  }
}
