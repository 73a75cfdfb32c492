// The layout of infra/ as a rule: modules import only from their own floor or lower ones, no
// import circle, and only infra/partman/ speaks pg_partman's dialect. Imports are read with
// TypeScript's own ts.preProcessFile, and SQL text with its parser (comments are trivia it skips),
// so neither can be fooled by how a line happens to look.

import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const INFRA = path.join(__dirname, "../../infra");

/** Lowest first. A module's floor is that of its longest matching entry, so the two files of
 *  partman/ that validation needs before any connection (pg_partman's release features and its
 *  child names, importing only from config/) sit on config's floor, below the rest of partman/. */
const FLOORS: { floor: string; modules: string[] }[] = [
  { floor: "config", modules: ["config/", "package-root.ts", "partman/version.ts", "partman/child-names.ts"] },
  { floor: "local", modules: ["local/"] },
  { floor: "db", modules: ["db/"] },
  { floor: "partman", modules: ["partman/"] },
  { floor: "engine", modules: ["engine/"] },
  { floor: "migrate, archive", modules: ["migrate/", "archive/"] },
  { floor: "front ends", modules: ["cli/", "providers/", "component/", "program/", "policy/"] },
  { floor: "entry points", modules: ["index.ts", "pulumi.ts", "testing.ts"] },
];

function infraModules(dir = INFRA): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return infraModules(full);
    return e.name.endsWith(".ts") ? [path.relative(INFRA, full).split(path.sep).join("/")] : [];
  });
}

const MODULES = infraModules().sort();

function floorOf(module: string): number {
  let best = -1;
  let length = 0;
  FLOORS.forEach((f, i) => {
    for (const m of f.modules) {
      if ((module === m || (m.endsWith("/") && module.startsWith(m))) && m.length > length) [best, length] = [i, m.length];
    }
  });
  return best;
}

/** The infra modules a module imports (import, import type, export … from, import()), as paths under infra/. */
function importsOf(module: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(path.join(INFRA, module), "utf8"), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith("."))
    .map((name) => {
      const target = path.relative(INFRA, path.resolve(path.dirname(path.join(INFRA, module)), name)).split(path.sep).join("/");
      const found = [`${target}.ts`, `${target}/index.ts`, target].find((t) => MODULES.includes(t));
      if (!found) throw new Error(`${module} imports ${name}, which is no module under infra/`);
      return found;
    });
}

const GRAPH = new Map(MODULES.map((m) => [m, importsOf(m)]));

/** Every import circle, each as one path round it (a → b → … → a), one per strongly connected
 *  component (Tarjan's algorithm). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do component.push((w = stack.pop()!));
    while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(pathRound(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** A shortest path from `start` back to itself within one component (breadth first). */
function pathRound(graph: Map<string, string[]>, component: Set<string>, start: string): string[] {
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v)!.filter((x) => component.has(x))) {
      if (w === start) {
        const route = [v];
        while (route[0] !== start) route.unshift(from.get(route[0])!);
        return [...route, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe("module floors", () => {
  it("gives every module of infra/ a floor", () => {
    expect(MODULES.filter((m) => floorOf(m) < 0)).toEqual([]);
  });

  it("has no import circle", () => {
    expect(circles(GRAPH).map((c) => c.join(" → "))).toEqual([]);
  });

  it("imports nothing from a higher floor", () => {
    const upward = [...GRAPH].flatMap(([m, deps]) =>
      deps.filter((d) => floorOf(d) > floorOf(m)).map((d) => `${m} (${FLOORS[floorOf(m)].floor}) imports ${d} (${FLOORS[floorOf(d)].floor})`),
    );
    expect(upward).toEqual([]);
  });

  it("finds a circle and names its path", () => {
    const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts", "d.ts"]], ["d.ts", []]]);
    expect(circles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });
});

// pg_partman's dialect: its functions, config tables and the columns only it has (parent_table,
// retention_schema and the like are also columns of partman-stack's own tables, so are left out).
const PARTMAN_FUNCTIONS = [
  "apply_cluster", "apply_constraints", "apply_publications", "check_control_type", "check_default", "check_epoch_type", "check_name_length",
  "check_partition_type", "check_subpartition_limits", "create_parent", "create_partition", "create_partition_id", "create_partition_time",
  "create_sub_parent", "create_sub_partition", "drop_constraints", "drop_partition_column", "drop_partition_id", "drop_partition_time",
  "dump_partitioned_table_definition", "inherit_replica_identity", "inherit_template_properties", "partition_data_async", "partition_data_id",
  "partition_data_proc", "partition_data_time", "partition_gap_fill", "reapply_constraints_proc", "reapply_privileges", "run_analyze",
  "run_maintenance", "run_maintenance_proc", "show_partition_info", "show_partition_name", "show_partitions", "stop_sub_partition",
  "undo_partition", "undo_partition_proc", "uuid7_time_decoder", "uuid7_time_encoder",
];
const PARTMAN_TABLES = ["part_config", "part_config_sub"];
const PARTMAN_COLUMNS = [
  "partition_interval", "partition_type", "retention_keep_table", "retention_keep_index", "retention_keep_publication", "infinite_time_partitions",
  "automatic_maintenance", "time_encoder", "time_decoder", "template_table", "optimize_constraint", "inherit_privileges", "constraint_cols",
  "constraint_valid", "datetime_string", "ignore_default_data", "date_trunc_interval", "maintenance_order", "maintenance_last_run",
  "async_partitioning_in_progress", "detach_before_drop", "default_table", "sub_parent", "sub_control", "sub_partition_interval",
  "sub_partition_type", "sub_premake", "sub_retention_keep_table", "sub_retention_schema", "sub_infinite_time_partitions",
  "sub_automatic_maintenance", "sub_epoch", "sub_time_encoder", "sub_time_decoder", "sub_template_table", "sub_default_table",
];

/** Where `text` (the text of one string literal or template piece; `afterSubstitution`: it follows
 *  a `${…}`, `whole`: it is a literal of its own) uses pg_partman's dialect as SQL does: a function
 *  called (`name(`, or `partition_data_${kind}(`), a config table qualified with a schema or named
 *  as a literal of its own, a column of theirs, or a child name made by appending pg_partman's
 *  suffixes (`${table}_default`, `${table}_p…`). Prose naming a function to the user ("has
 *  create_parent make 400 partitions") is not SQL, and partman-stack's own objects
 *  (partman_stack.run_maintenance) are not pg_partman's. */
function dialectUses(text: string, afterSubstitution: boolean, whole: boolean): string[] {
  const uses: string[] = [];
  for (const m of text.matchAll(/(partman_stack\.|\.)?\b([a-z][a-z0-9_]*)\b(\s*\()?/g)) {
    const [, qualifier, word, call] = m;
    if (qualifier === "partman_stack.") continue;
    const endsPiece = m.index + m[0].length === text.length && !whole;
    if (PARTMAN_FUNCTIONS.includes(word) && (call || endsPiece || (whole && word === text))) uses.push(`function ${word}`);
    else if (word.endsWith("_") && endsPiece && PARTMAN_FUNCTIONS.some((f) => f.startsWith(word))) uses.push(`function ${word}…`);
    else if (PARTMAN_TABLES.includes(word) && (qualifier || (whole && word === text))) uses.push(`table ${word}`);
    else if (PARTMAN_COLUMNS.includes(word)) uses.push(`column ${word}`);
  }
  if (afterSubstitution && /^_(default\b|p(\d|$))/.test(text)) uses.push(`child name ${text.slice(0, 8)}`);
  return uses;
}

/** pg_partman's dialect in one module's code: every string literal and template piece. */
function dialectIn(module: string): string[] {
  const file = ts.createSourceFile(module, fs.readFileSync(path.join(INFRA, module), "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    const piece = (text: string, after: boolean, whole: boolean) => {
      for (const use of dialectUses(text, after, whole)) {
        found.push(`${module}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${use}`);
      }
    };
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) piece(node.text, false, true);
    else if (ts.isTemplateHead(node)) piece(node.text, false, false);
    else if (ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) piece(node.text, true, false);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** Modules that still write pg_partman's statements themselves until the branch that makes migrate,
 *  archive and verify --fix planners moves them into infra/partman/: remove each once merged. */
const NOT_YET_MOVED = ["archive/archive.ts", "engine/verify.ts", "migrate/migration.ts"];

describe("pg_partman's dialect", () => {
  it("is spoken only in infra/partman/", () => {
    const outside = MODULES.filter((m) => !m.startsWith("partman/") && !NOT_YET_MOVED.includes(m));
    expect(outside.flatMap(dialectIn)).toEqual([]);
  });

  it("is told from prose and from partman-stack's own objects", () => {
    expect(dialectUses(`SELECT partman.create_parent(p_parent_table => 'a.b')`, false, true)).toEqual(["function create_parent"]);
    expect(dialectUses(`SELECT x.partition_data_`, false, false)).toEqual(["function partition_data_…"]);
    expect(dialectUses(".part_config pc WHERE x = 1", true, false)).toEqual(["table part_config"]);
    expect(dialectUses("part_config", false, true)).toEqual(["table part_config"]);
    expect(dialectUses("sub_partition_interval AS partition_interval", false, true)).toEqual(["column sub_partition_interval", "column partition_interval"]);
    expect(dialectUses("_default", true, false)).toEqual(["child name _default"]);
    expect(dialectUses("_p", true, false)).toEqual(["child name _p"]);
    expect(dialectUses("_pending", true, false)).toEqual([]);
    expect(dialectUses("startPartition has create_parent make about ", false, false)).toEqual([]);
    expect(dialectUses("leaves its part_config as it is", false, true)).toEqual([]);
    expect(dialectUses("CALL partman_stack.run_maintenance(p_analyze => true)", false, true)).toEqual([]);
  });
});
