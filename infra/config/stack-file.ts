// Reads stacks/Pulumi.<stack>.yaml as the Pulumi CLI would for this project: the project's
// stackConfigDir, its `partman-stack:`-namespaced keys, and project-level config defaults.

import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ConfigError } from "./errors";
import type { RawStackConfig, StackSpec } from "./types";
import { validateStack } from "./validate";

export const PROJECT = "partman-stack";
const KEYS = ["tables", "maintenance", "database", "roles"] as const;
/** Read by the Pulumi program only (the CLI takes PGPASSWORD); must be a Pulumi secret. */
const PASSWORD_KEY = "databasePassword";

/** The nearest folder at or above `from` holding Pulumi.yaml. */
export function findProjectRoot(from: string = process.cwd()): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new ConfigError([`no Pulumi.yaml in ${path.resolve(from)} or above it: run partman-stack inside the project`]);
    dir = up;
  }
}

function projectFile(root: string): Record<string, unknown> {
  const doc = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) ?? {};
  return doc as Record<string, unknown>;
}

export function stackConfigDir(root: string): string {
  const dir = projectFile(root).stackConfigDir;
  return path.resolve(root, typeof dir === "string" ? dir : ".");
}

export function listStacks(root: string): string[] {
  const dir = stackConfigDir(root);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** The stack's `partman-stack:*` config, with Pulumi.yaml's project defaults beneath it. */
export function readStackConfig(root: string, stack: string): RawStackConfig {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack) || stack.startsWith(".")) {
    throw new ConfigError([`stack name "${stack}" is not a Pulumi stack name (letters, digits, "_", "-", ".")`]);
  }
  const dir = stackConfigDir(root);
  const file = ["yaml", "yml"].map((ext) => path.join(dir, `Pulumi.${stack}.${ext}`)).find((f) => fs.existsSync(f));
  if (!file) {
    const known = listStacks(root);
    throw new ConfigError([
      `stack "${stack}": no stack file ${path.relative(root, path.join(dir, `Pulumi.${stack}.yaml`))}` +
        (known.length ? `; stacks in this project: ${known.join(", ")}` : "; this project has no stack files yet"),
    ]);
  }
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError([`stack "${stack}": ${path.relative(root, file)} is not valid YAML: ${(err as Error).message}`]);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const raw: Record<string, unknown> = { ...projectDefaults(root) };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const [ns, name] = key.split(":");
    if (ns !== PROJECT || name === undefined) continue;
    if (name === PASSWORD_KEY) {
      if (!(typeof value === "object" && value !== null && "secure" in value)) {
        problems.push(`stack "${stack}": ${key} is in plain text in ${path.relative(root, file)}; remove it and run \`pulumi config set --secret ${key} <password> -s ${stack}\``);
      }
    } else if (!(KEYS as readonly string[]).includes(name)) {
      problems.push(`stack "${stack}": unknown config key "${key}" in ${path.relative(root, file)} (known: ${[...KEYS, PASSWORD_KEY].map((k) => `${PROJECT}:${k}`).join(", ")})`);
    } else raw[name] = value;
  }
  if (problems.length) throw new ConfigError(problems);
  return raw;
}

/** Pulumi.yaml `config: {"partman-stack:x": {default: …}}` (or `value:`) apply to every stack. */
function projectDefaults(root: string): RawStackConfig {
  const config = (projectFile(root).config ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(config)) {
    const name = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;
    if (!(KEYS as readonly string[]).includes(name)) continue;
    const d = decl as { default?: unknown; value?: unknown } | null;
    const v = d && typeof d === "object" && ("value" in d || "default" in d) ? (d.value ?? d.default) : decl;
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export function loadStack(root: string, stack: string): StackSpec {
  return validateStack(stack, root, readStackConfig(root, stack));
}
