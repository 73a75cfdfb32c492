#!/usr/bin/env node
// partman-stack's stand-in for `pulumi-language-nodejs`, used only when the CLI was built here from
// its Go modules: the Go module proxy this project's machines reach does not serve the language
// host's own module (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, 403 for
// every version). It speaks the engine's LanguageRuntime protocol and runs the program exactly as
// the real host does: `node @pulumi/pulumi/cmd/run` from the program's own node_modules, with the
// same flags, the same PULUMI_CONFIG/PULUMI_CONFIG_SECRET_KEYS and the same TypeScript switch, so
// the program is loaded by the SDK's own loader. What it leaves out: plugin discovery from
// node_modules (the engine loads a provider when a resource asks for it), dependency installs,
// debugging and code generation.
"use strict";
const { spawn } = require("node:child_process");
const net = require("node:net");

// The gRPC stubs of the @pulumi/pulumi the project uses: the same protocol version as its SDK.
const projectRequire = (m) => require(require.resolve(m, { paths: [process.cwd(), __dirname] }));
const grpc = projectRequire("@grpc/grpc-js");
const langrpc = projectRequire("@pulumi/pulumi/proto/language_grpc_pb.js");
const langproto = projectRequire("@pulumi/pulumi/proto/language_pb.js");
const pluginproto = projectRequire("@pulumi/pulumi/proto/plugin_pb.js");
const { version: sdkVersion } = projectRequire("@pulumi/pulumi/package.json");

/** The programs and plugins running now: stopped with the host, so a killed engine leaves nothing. */
const children = new Set();
function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}
function leave() {
  server.forceShutdown();
  for (const c of children) c.kill("SIGTERM");
  process.exit(0);
}

/** The exit code by which the SDK says it has already shown the user an actionable message. */
const BAIL_EXIT_CODE = 32;
const engineAddress = process.argv.slice(2).filter((a) => !a.startsWith("-")).pop() ?? "";

/** Pulumi.yaml's runtime options: node's own arguments, and the environment that tells the SDK's
 *  runner whether to load the program through ts-node, and with which tsconfig. */
function programOptions(info) {
  const opts = info?.getOptions()?.toJavaScript() ?? {};
  const env = {};
  if (opts.typescript !== false) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (typeof opts.tsconfig === "string" && opts.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = opts.tsconfig;
  return { env, nodeargs: typeof opts.nodeargs === "string" ? opts.nodeargs.split(/\s+/).filter(Boolean) : [] };
}

function runArgs(req, runPath) {
  const info = req.getInfo();
  const args = [runPath];
  const add = (k, v) => { if (v !== "" && v !== undefined && v !== null) args.push(`--${k}`, String(v)); };
  add("monitor", req.getMonitorAddress());
  add("engine", engineAddress);
  add("organization", req.getOrganization());
  add("project", req.getProject());
  add("root-directory", info.getRootDirectory());
  add("stack", req.getStack());
  add("pwd", info.getProgramDirectory());
  if (req.getDryrun()) args.push("--dry-run");
  add("parallel", req.getParallel());
  args.push(info.getEntryPoint() || ".", ...req.getArgsList());
  return args;
}

/** The config bag as the SDK reads it: `<namespace>:config:<name>` keys, as the real host sends. */
function configJson(req) {
  const out = {};
  for (const [k, v] of req.getConfigMap().entries()) {
    const i = k.indexOf(":");
    out[i < 0 ? k : `${k.slice(0, i)}:config:${k.slice(i + 1)}`] = v;
  }
  return JSON.stringify(out);
}

function run(call, callback) {
  const req = call.request;
  const info = req.getInfo();
  const dir = info.getProgramDirectory() || req.getPwd();
  const res = new langproto.RunResponse();
  // A child that fails to start may report both "error" and "exit": answer the engine once.
  let answered = false;
  const answer = () => { if (!answered) { answered = true; callback(null, res); } };
  let runPath;
  try {
    runPath = require.resolve("@pulumi/pulumi/cmd/run", { paths: [dir] });
  } catch {
    res.setError(`could not find @pulumi/pulumi/cmd/run from ${dir}: run npm install in the project`);
    return callback(null, res);
  }
  const opts = programOptions(info);
  const env = { ...process.env, PULUMI_CONFIG: configJson(req), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()), ...opts.env };
  const child = track(spawn(process.execPath, [...opts.nodeargs, ...runArgs(req, runPath)], { cwd: req.getPwd() || dir, env, stdio: ["ignore", "inherit", "inherit"] }));
  child.on("error", (e) => { if (!answered) res.setError(`Problem executing program (could not run language executor): ${e.message}`); answer(); });
  child.on("exit", (code, signal) => {
    if (answered) return;
    if (code === BAIL_EXIT_CODE) res.setBail(true);
    else if (code !== 0) res.setError(signal ? `Program exited on signal ${signal}` : `Program exited with non-zero exit code: ${code}`);
    answer();
  });
}

/** A policy pack (kind "analyzer"), as the real host runs one: `node @pulumi/pulumi/cmd/run-policy-pack
 *  <args> <pack dir>` in the pack's folder, its output streamed back. The pack prints its own port,
 *  and the engine then configures it over the Analyzer protocol (the real host's proxy, which also
 *  hands the pack the stack's config before it starts, is left out: a pack reads no stack config
 *  here). Other plugin kinds run `@pulumi/pulumi/cmd/run-plugin` likewise. */
function runPlugin(call) {
  const req = call.request;
  const info = req.getInfo();
  const dir = info.getProgramDirectory();
  const analyzer = req.getKind() === "analyzer";
  const send = (set, value) => { const r = new langproto.RunPluginResponse(); r[set](value); call.write(r); };
  let runPath;
  try {
    runPath = require.resolve(analyzer ? "@pulumi/pulumi/cmd/run-policy-pack" : "@pulumi/pulumi/cmd/run-plugin", { paths: [dir] });
  } catch (e) {
    call.destroy(Object.assign(new Error(`could not find @pulumi/pulumi from ${dir}: ${e.message}`), { code: grpc.status.FAILED_PRECONDITION }));
    return;
  }
  const opts = programOptions(info);
  const env = { ...Object.fromEntries(req.getEnvList().map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])), ...opts.env };
  const args = analyzer ? [runPath, ...opts.nodeargs, ...req.getArgsList(), dir] : [runPath, ...opts.nodeargs, dir, ...req.getArgsList()];
  const child = track(spawn(process.execPath, args, { cwd: analyzer ? dir : req.getPwd() || dir, env, stdio: ["ignore", "pipe", "pipe"] }));
  child.stdout.on("data", (b) => send("setStdout", b));
  child.stderr.on("data", (b) => send("setStderr", b));
  call.on("cancelled", () => child.kill("SIGTERM"));
  child.on("error", (e) => call.destroy(Object.assign(e, { code: grpc.status.INTERNAL })));
  child.on("close", (code) => { send("setExitcode", code ?? 1); call.end(); });
}

const empty = (Type) => (_call, callback) => callback(null, new Type());
const unimplemented = (name) => (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by partman-stack's language host` });

const service = {
  handshake: empty(langproto.LanguageHandshakeResponse),
  getRequiredPlugins: empty(langproto.GetRequiredPluginsResponse),
  getRequiredPackages: empty(langproto.GetRequiredPackagesResponse),
  run,
  runPlugin,
  getPluginInfo: (_call, callback) => { const p = new pluginproto.PluginInfo(); p.setVersion(sdkVersion); callback(null, p); },
  installDependencies: (call) => call.end(),
  about: (_call, callback) => { const a = new langproto.AboutResponse(); a.setExecutable(process.execPath); a.setVersion(process.version); callback(null, a); },
  getProgramDependencies: empty(langproto.GetProgramDependenciesResponse),
  cancel: (_call, callback) => callback(null, new (projectRequire("google-protobuf/google/protobuf/empty_pb.js").Empty)()),
};
for (const name of Object.keys(langrpc.LanguageRuntimeService)) service[name] ??= unimplemented(name);

const server = new grpc.Server();
server.addService(langrpc.LanguageRuntimeService, service);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) { console.error(`partman-stack language host: ${err.message}`); process.exit(1); }
  process.stdout.write(`${port}\n`);
});
process.on("SIGINT", () => server.forceShutdown());
process.on("SIGTERM", leave);
// Like the real host: leave when the engine is gone (a killed `pulumi` must not leave hosts behind).
if (engineAddress) {
  const [host, port] = [engineAddress.slice(0, engineAddress.lastIndexOf(":")), Number(engineAddress.slice(engineAddress.lastIndexOf(":") + 1))];
  setInterval(() => {
    const s = net.connect({ host, port }, () => s.destroy());
    s.on("error", leave);
  }, 1000).unref();
}
