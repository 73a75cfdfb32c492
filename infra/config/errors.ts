// The one error type partman-stack raises on purpose: what went wrong, the fix, and the CLI's exit
// code, so the CLI maps every refusal the same way (cli/main.ts) and programs can read the fix apart.
// It lives on the lowest floor (config) because every floor raises it.

export class PartmanStackError extends Error {
  /** What went wrong, without the fix. */
  readonly problem: string;
  /** What to do about it; null when the problem says it all (a list of problems, each with its own). */
  readonly fix: string | null;
  /** The CLI's exit code for it (1 unless a command documents another). */
  readonly exitCode: number;

  /** The message is the problem, `join` (": " unless given) and the fix. */
  constructor(problem: string, fix: string | null = null, options: { exitCode?: number; join?: string } = {}) {
    super(fix ? `${problem}${options.join ?? ": "}${fix}` : problem);
    this.name = new.target.name;
    this.problem = problem;
    this.fix = fix;
    this.exitCode = options.exitCode ?? 1;
  }

  /** The CLI's line on stderr: "error: …" for one problem; a list speaks for itself (ProblemList). */
  cliText(): string {
    return `error: ${this.message}`;
  }
}

/** Several problems found at once, each carrying its own fix, so one run lists them all: the
 *  heading, then a line per problem; with no heading (""), a lone problem is the message itself. */
export class ProblemList extends PartmanStackError {
  constructor(
    readonly problems: string[],
    heading: (count: number) => string,
    options: { exitCode?: number } = {},
  ) {
    const head = heading(problems.length);
    super(head === "" && problems.length === 1 ? problems[0] : `${head}\n${problems.map((p) => `- ${p}`).join("\n")}`, null, options);
  }

  override cliText(): string {
    return this.message;
  }
}

/** A stack declaration that cannot be used. */
export class ConfigError extends ProblemList {
  constructor(problems: string[]) {
    super(problems, (n) => (n === 1 ? "" : `${n} problems:`));
  }
}

/** A bad value as an error message quotes it. */
export function describe(v: unknown): string {
  if (typeof v === "string") return `"${v}"`;
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "a mapping";
  return String(v);
}
