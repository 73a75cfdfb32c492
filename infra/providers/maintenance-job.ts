// The pg_cron job that runs pg_partman's maintenance, as a Pulumi resource over the engine's job
// plan: create/update schedule or alter it, read returns the live job (refresh shows hand edits),
// delete unschedules it (a job is not data).

import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/errors";
import { validateStack } from "../config/validate";
import type { MaintenanceSpec } from "../config/types";
import { introspect } from "../engine/introspect";
import { applyStack } from "../engine/reconcile";
import { hasUnknowns, providerSpec, sameJson, throwUnlessApplied, withInputsSession, type ConnectedInputs } from "./connection";

export interface JobInputs extends ConnectedInputs {
  jobName: string;
  schedule: string;
  analyze: boolean;
  enabled: boolean;
  /** maintenance.lockTimeout and maxLockWait, as written in the stack file. */
  lockTimeout: string;
  maxLockWait: string;
}

export interface JobOutputs extends JobInputs {
  jobId: number | null;
  command: string | null;
  active: boolean | null;
  /** cron.database_name: where the job is stored. */
  cronDatabase: string | null;
}

const KEYS = ["jobName", "schedule", "analyze", "enabled", "lockTimeout", "maxLockWait"] as const;

function maintenanceSpec(inputs: JobInputs): MaintenanceSpec {
  return validateStack(inputs.stack, ".", { maintenance: Object.fromEntries(KEYS.map((k) => [k, inputs[k]])) }).maintenance;
}

async function reconcile(inputs: JobInputs, maintenance: MaintenanceSpec = maintenanceSpec(inputs)): Promise<JobOutputs> {
  const spec = providerSpec(inputs, { maintenance });
  return withInputsSession(inputs, `MaintenanceJob ${inputs.jobName}`, async (session) => {
    throwUnlessApplied((await applyStack(session, spec, {}, ["job"])).result);
    const job = (await introspect(session, spec)).cron;
    return {
      ...inputs,
      jobId: job.job?.jobid ?? null,
      command: job.job?.command ?? null,
      active: job.job?.active ?? null,
      cronDatabase: job.database,
    };
  });
}

export const maintenanceJobProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<JobInputs>, news: JobInputs) {
    const values = Object.fromEntries(KEYS.map((k) => [k, news[k]]));
    if (hasUnknowns(values)) return { inputs: news };
    try {
      maintenanceSpec(news);
      return { inputs: news };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { inputs: news, failures: err.problems.map((reason) => ({ property: KEYS.find((k) => reason.includes(`: ${k} `)) ?? "schedule", reason })) };
    }
  },

  async diff(_id: string, olds: JobOutputs, news: JobInputs) {
    const keys = [...KEYS, "connection", "password", "owner", "providerVersion", "stack"] as const;
    const changed = keys.filter((k) => !sameJson(olds[k], news[k]));
    // A job whose live state drifted (refresh saw it inactive, or gone) is reconciled back.
    const drifted = olds.enabled && (olds.active === false || olds.jobId === null);
    return { changes: changed.length > 0 || drifted, replaces: [], stables: [] };
  },

  async create(inputs: JobInputs) {
    const outs = await reconcile(inputs);
    return { id: inputs.jobName, outs };
  },

  async read(id: string, props: JobOutputs) {
    const spec = providerSpec(props, { maintenance: maintenanceSpec(props) });
    return withInputsSession(props, `MaintenanceJob ${props.jobName}`, async (session) => {
      const cron = (await introspect(session, spec)).cron;
      const job = cron.job;
      return {
        id,
        props: {
          ...props,
          schedule: job?.schedule ?? props.schedule,
          jobId: job?.jobid ?? null,
          command: job?.command ?? null,
          active: job?.active ?? null,
          cronDatabase: cron.database,
        },
      };
    });
  },

  async update(_id: string, olds: JobOutputs, news: JobInputs) {
    // A renamed job is a new pg_cron job: unschedule the old name first so none is left running.
    if (olds.jobName !== news.jobName) await reconcile(olds, { ...maintenanceSpec(olds), enabled: false });
    return { outs: await reconcile(news) };
  },

  async delete(_id: string, props: JobOutputs) {
    await reconcile(props, { ...maintenanceSpec(props), enabled: false });
  },
};

export class MaintenanceJob extends pulumi.dynamic.Resource {
  declare readonly jobId: pulumi.Output<number | null>;
  declare readonly schedule: pulumi.Output<string>;
  declare readonly command: pulumi.Output<string | null>;
  declare readonly cronDatabase: pulumi.Output<string | null>;

  constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(maintenanceJobProvider, name, { jobId: undefined, command: undefined, active: undefined, cronDatabase: undefined, ...args }, opts, "partman", "MaintenanceJob");
  }
}
