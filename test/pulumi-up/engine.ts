// A mini Pulumi engine: `pulumi up`, `preview` and `refresh` of the real program against a real
// server, for machines without the Pulumi CLI. Runs in a plain `node` process on tsc output
// (vitest's module transform breaks closure serialization):
//   node <build>/test/pulumi-up/engine.js <request.json>
// The program runs as the Node.js language host runs it (inside runInPulumiStack, cwd = its main
// folder, config from the stack file) under pulumi.runtime.setMocks, and each resource's work is
// done inside the mock's newResource: the SDK registers a resource only once the resources it
// depends on are registered, and registers independent ones concurrently, so the work happens in
// the engine's order and with its concurrency.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { parse } from "yaml";
import { pgProvider, POSTGRESQL, SET_INPUTS, type Bridged, type PgProvider } from "./postgresql";

type Props = Record<string, any>;

export interface EngineRequest {
  /** The Pulumi project folder (Pulumi.yaml, compiled program). */
  project: string;
  stack: string;
  operation: "up" | "preview" | "refresh";
  statePath: string;
  /** Values of the stack file's `secure:` config keys. */
  secrets: Record<string, string>;
  reportPath: string;
}

export interface PropertyDiff {
  key: string;
  old: unknown;
  new: unknown;
}

export interface Step {
  type: string;
  name: string;
  op: "create" | "update" | "same" | "read" | "failed" | "skipped";
  /** update: inputs that changed; read: outputs that changed. */
  diff: PropertyDiff[];
  start: number;
  end: number;
  error?: string;
}

/** Secrets stay marked as the SDK marks them (Pulumi's checkpoint encrypts them; this does not). */
export interface ResourceState {
  type: string;
  name: string;
  id: string;
  inputs: Props;
  outputs: Props;
}

export interface EngineReport {
  operation: EngineRequest["operation"];
  steps: Step[];
  /** Stack outputs, secrets unwrapped. */
  outputs: Props | null;
  errors: string[];
  /** Dynamic resources' inputs as their provider's check returned them, by resource name. */
  checkedInputs: Record<string, Props>;
}

interface Outcome {
  op: "create" | "update" | "same";
  id: string;
  inputs: Props;
  outputs: Props;
  diff: PropertyDiff[];
}

interface DynamicProvider {
  check?(olds: Props, news: Props): Promise<{ inputs?: Props; failures?: { property: string; reason: string }[] }>;
  diff?(id: string, olds: Props, news: Props): Promise<{ changes?: boolean; replaces?: string[] }>;
  create(inputs: Props): Promise<{ id: string; outs?: Props }>;
  read?(id: string, props: Props): Promise<{ id: string; props?: Props; inputs?: Props }>;
  update?(id: string, olds: Props, news: Props): Promise<{ outs?: Props } | undefined>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { leakedPromises }: { leakedPromises(): [Set<Promise<unknown>>, string] } = require("@pulumi/pulumi/runtime/debuggable");

const DYNAMIC = "pulumi-nodejs:dynamic/";
const PG_PROVIDER = "pulumi:providers:postgresql";
const { specialSigKey: SIG, specialSecretSig: SECRET, unknownValue: UNKNOWN } = pulumi.runtime;

const isSecret = (v: unknown): v is { value: unknown } => typeof v === "object" && v !== null && (v as Props)[SIG] === SECRET;
const secret = (value: unknown) => ({ [SIG]: SECRET, value });

/** What providers receive: secrets in plain text (the dynamic provider host does not accept
 *  secrets), unknowns as the unknown sentinel. */
function plainValue(v: unknown): any {
  if (isSecret(v)) return plainValue(v.value);
  if (pulumi.isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map(plainValue);
  if (typeof v === "object" && v !== null) return plain(v as Props);
  return v;
}
const plain = (props: Props): Props => Object.fromEntries(Object.entries(props).map(([k, v]) => [k, plainValue(v)]));

/** The gRPC path between engine and provider: a protobuf Struct. */
const wire = (props: Props): Props => Struct.fromJavaScript(props).toJavaScript() as Props;

/** Pulumi marks an output secret when the input of the same name is. */
const remark = (outputs: Props, inputs: Props): Props =>
  Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, isSecret(inputs[k]) && !isSecret(v) ? secret(v) : v]));

function propertyDiff(olds: Props, news: Props, sets: string[] = []): PropertyDiff[] {
  const norm = (k: string, v: unknown) => JSON.stringify(sets.includes(k) && Array.isArray(v) ? [...v].sort() : (v ?? null));
  return [...new Set([...Object.keys(olds), ...Object.keys(news)])]
    .filter((k) => k !== "__provider" && norm(k, olds[k]) !== norm(k, news[k]))
    .map((key) => ({ key, old: olds[key], new: news[key] }));
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler(): DynamicProvider } = require("require-from-string");
const dynamicProviders = new Map<string, DynamicProvider>();

/** As the dynamic provider host loads a provider: from its serialized text, once per text. */
function dynamicProvider(props: Props): DynamicProvider {
  const text: string = props.__provider;
  let provider = dynamicProviders.get(text);
  if (!provider) dynamicProviders.set(text, (provider = requireFromString(text).handler()));
  return provider;
}

const randomPassword: Bridged = {
  updatable: [],
  async create(i) {
    const chars = [
      i.lower !== false && "abcdefghijklmnopqrstuvwxyz",
      i.upper !== false && "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      i.numeric !== false && "0123456789",
      i.special !== false && (i.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?"),
    ].filter((x): x is string => !!x).join("");
    return { id: "none", outputs: { result: secret(Array.from({ length: i.length }, () => chars[crypto.randomInt(chars.length)]).join("")) } };
  },
};

const BRIDGED: Record<string, Bridged> = { ...POSTGRESQL, "random:index/randomPassword:RandomPassword": randomPassword };

/** Pulumi.yaml's config defaults under the stack file's values, `secure:` values from the request. */
function stackConfig(req: EngineRequest, project: Props): { config: Record<string, string>; secretKeys: string[] } {
  const file = path.join(req.project, project.stackConfigDir ?? ".", `Pulumi.${req.stack}.yaml`);
  const values: Props = {};
  for (const [k, v] of Object.entries((project.config ?? {}) as Props)) {
    const value = typeof v === "object" && v !== null && !Array.isArray(v) ? (v.value ?? v.default) : v;
    if (value !== undefined) values[k.includes(":") ? k : `${project.name}:${k}`] = value;
  }
  Object.assign(values, (parse(fs.readFileSync(file, "utf8")) as { config?: Props } | null)?.config ?? {});
  const secretKeys = Object.keys(values).filter((k) => typeof values[k] === "object" && values[k] !== null && "secure" in values[k]);
  for (const k of secretKeys) {
    if (req.secrets[k] === undefined) throw new Error(`${file}: ${k} is a secret; the request has no value for it`);
    values[k] = req.secrets[k];
  }
  return { config: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), secretKeys };
}

async function main(requestPath: string): Promise<void> {
  const req = JSON.parse(fs.readFileSync(requestPath, "utf8")) as EngineRequest;
  const old: Record<string, ResourceState> = fs.existsSync(req.statePath) ? JSON.parse(fs.readFileSync(req.statePath, "utf8")) : {};
  const report: EngineReport = { operation: req.operation, steps: [], outputs: null, errors: [], checkedInputs: {} };
  const preview = req.operation === "preview";
  const next: Record<string, ResourceState> = {};
  const failures = new Set<string>();
  let failed = false;
  const pgProviders = new Map<string, PgProvider>();

  const fail = (key: string, message: string) => {
    failed = true;
    failures.add(message);
    report.errors.push(`${key}: ${message}`);
  };
  // Reported as the language host reports an unhandled error, unless it only passes on a resource failure already reported.
  const programError = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (![...failures].some((f) => message.includes(f))) fail("program", message);
  };
  process.on("unhandledRejection", programError);
  process.on("uncaughtException", programError);

  async function dynamicStep(args: pulumi.runtime.MockResourceArgs, prior: ResourceState | undefined): Promise<Outcome> {
    const news = wire(plain(args.inputs));
    const olds = prior ? wire(plain(prior.inputs)) : {};
    const provider = dynamicProvider(news.__provider === UNKNOWN ? olds : news);
    const checked = provider.check ? await provider.check(olds, news) : { inputs: news };
    const problems = checked.failures ?? [];
    if (problems.length > 0) throw new Error(`check failed:\n${problems.map((f) => `${f.property}: ${f.reason}`).join("\n")}`);
    const checkedInputs = wire({ ...(checked.inputs ?? news), __provider: news.__provider });
    report.checkedInputs[args.name] = checkedInputs;
    const inputs = remark(checkedInputs, args.inputs);
    const outs = (result: Props | undefined) => remark(wire({ ...result, __provider: checkedInputs.__provider }), args.inputs);
    if (!prior) {
      if (preview) return { op: "create", id: "", inputs, outputs: inputs, diff: [] };
      const created = await provider.create(checkedInputs);
      return { op: "create", id: created.id, inputs, outputs: outs(created.outs), diff: [] };
    }
    const d = provider.diff ? await provider.diff(prior.id, wire(plain(prior.outputs)), checkedInputs) : {};
    if (d.replaces?.length) throw new Error(`diff asks to replace it (${d.replaces.join(", ")}): not emulated`);
    const diff = propertyDiff(plain(prior.inputs), checkedInputs);
    // DIFF_UNKNOWN: the engine compares old and new inputs itself.
    if (!(d.changes ?? diff.length > 0)) return { op: "same", id: prior.id, inputs, outputs: prior.outputs, diff: [] };
    if (preview) return { op: "update", id: prior.id, inputs, outputs: { ...prior.outputs, ...inputs }, diff };
    const updated = provider.update ? await provider.update(prior.id, wire(plain(prior.outputs)), checkedInputs) : undefined;
    return { op: "update", id: prior.id, inputs, outputs: outs(updated?.outs), diff };
  }

  async function bridgedStep(args: pulumi.runtime.MockResourceArgs, prior: ResourceState | undefined): Promise<Outcome> {
    const inputs = args.inputs as Props;
    const news = plain(inputs);
    const diff = prior ? propertyDiff(plain(prior.inputs), news, SET_INPUTS) : [];
    if (prior && diff.length === 0) return { op: "same", id: prior.id, inputs, outputs: prior.outputs, diff };
    const op = prior ? "update" : "create";
    const impl = BRIDGED[args.type];
    if (!impl && args.type !== PG_PROVIDER) throw new Error(`${args.type} is not emulated by this test engine`);
    if (preview) return { op, id: prior?.id ?? "", inputs, outputs: { ...prior?.outputs, ...inputs }, diff };
    // A provider resource is configuration: nothing to do on the server.
    if (!impl) return { op, id: prior?.id ?? crypto.randomUUID(), inputs, outputs: inputs, diff };
    const provider = args.provider ? pgProviders.get(args.provider.split("::").pop()!) : undefined;
    if (!prior) {
      const created = await impl.create(news, provider);
      return { op, id: created.id, inputs, outputs: { ...inputs, ...created.outputs }, diff };
    }
    const fixed = diff.map((x) => x.key).filter((k) => !impl.updatable.includes(k));
    if (fixed.length > 0 || !impl.update) throw new Error(`changing ${fixed.join(", ")} replaces the resource or alters it in a way this test engine does not emulate`);
    await impl.update(prior.id, plain(prior.inputs), news, provider);
    return { op, id: prior.id, inputs, outputs: { ...prior.outputs, ...inputs }, diff };
  }

  const inFlight = new Set<Promise<Outcome>>();
  async function newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const key = `${args.type}::${args.name}`;
    const start = Date.now();
    const record = (step: Partial<Step> & Pick<Step, "op">) => report.steps.push({ type: args.type, name: args.name, diff: [], start, end: Date.now(), ...step });
    if (failed) {
      const error = "not started: an earlier resource failed";
      failures.add(error);
      record({ op: "skipped", error });
      throw new Error(error);
    }
    const prior = old[key];
    const work = !args.custom
      ? Promise.resolve<Outcome>({ op: prior ? "same" : "create", id: "", inputs: args.inputs, outputs: args.inputs, diff: [] })
      : args.type.startsWith(DYNAMIC)
        ? dynamicStep(args, prior)
        : bridgedStep(args, prior);
    inFlight.add(work);
    try {
      const r = await work;
      if (args.type === PG_PROVIDER) pgProviders.set(r.id, pgProvider(plain(r.inputs)));
      next[key] = { type: args.type, name: args.name, id: r.id, inputs: r.inputs, outputs: r.outputs };
      record({ op: r.op, diff: r.diff });
      return { id: r.id, state: r.outputs };
    } catch (err) {
      const error = (err as Error).message;
      record({ op: "failed", error });
      fail(key, error);
      throw err;
    } finally {
      inFlight.delete(work);
    }
  }

  async function run(): Promise<void> {
    const project = parse(fs.readFileSync(path.join(req.project, "Pulumi.yaml"), "utf8")) as Props;
    const { config, secretKeys } = stackConfig(req, project);
    await pulumi.runtime.setMocks(
      {
        newResource,
        call: (args) => {
          throw new Error(`invoke ${args.token} is not emulated`);
        },
      },
      project.name,
      req.stack,
      preview,
    );
    pulumi.runtime.setAllConfig(config, secretKeys);
    const main = path.join(req.project, project.main ?? ".");
    process.chdir(main);
    try {
      const outputs = await pulumi.runtime.runInPulumiStack(async () => require(main));
      report.outputs = plain(outputs ?? {});
    } catch (err) {
      programError(err);
    }
    await pulumi.runtime.disconnect();
    await Promise.allSettled([...inFlight]);
    // The language host fails a run that leaves SDK promises pending (a dependency cycle, an output
    // never resolved), unless errors were reported: dependents of a failed resource stay pending.
    const [leaks, message] = leakedPromises();
    if (leaks.size > 0 && !failed) fail("program", message);
    const stack = Object.values(next).find((r) => r.type === "pulumi:pulumi:Stack");
    if (stack && report.outputs) stack.outputs = report.outputs;
    if (!failed) for (const key of Object.keys(old).filter((k) => !(k in next))) fail(key, "no longer declared: deleting it is not emulated");
  }

  /** `pulumi refresh`: each dynamic resource read by the provider code stored in its state. */
  async function refresh(): Promise<void> {
    Object.assign(next, old);
    await Promise.all(
      Object.entries(old)
        .filter(([, r]) => r.type.startsWith(DYNAMIC))
        .map(async ([key, r]) => {
          const start = Date.now();
          const step = { type: r.type, name: r.name, start };
          try {
            const props = wire(plain(r.outputs));
            const provider = dynamicProvider(props);
            const read = provider.read ? await provider.read(r.id, props) : { id: r.id, props };
            const withProvider = (x: Props | undefined) => wire({ ...x, __provider: props.__provider });
            if (read.id) next[key] = { ...r, id: read.id, outputs: remark(withProvider(read.props), r.outputs), inputs: read.inputs ? remark(withProvider(read.inputs), r.inputs) : r.inputs };
            else delete next[key];
            report.steps.push({ ...step, op: "read", diff: propertyDiff(plain(r.outputs), read.id ? plain(next[key].outputs) : {}), end: Date.now() });
          } catch (err) {
            report.steps.push({ ...step, op: "failed", diff: [], end: Date.now(), error: (err as Error).message });
            fail(key, (err as Error).message);
          }
        }),
    );
  }

  await (req.operation === "refresh" ? refresh() : run());
  if (!preview) fs.writeFileSync(req.statePath, JSON.stringify(failed ? { ...old, ...next } : next, null, 2));
  fs.writeFileSync(req.reportPath, JSON.stringify(report, null, 2));
}

main(process.argv[2]).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
