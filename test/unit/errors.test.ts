// partman-stack's one error type: the message a user reads is unchanged (problem, then the fix),
// the fix and the exit code travel apart, and the CLI maps every one of them the same way.
import { describe, expect, it } from "vitest";
import { ConfigError, PartmanStackError, ProblemList } from "../../infra/config/errors";
import { main } from "../../infra/cli/main";
import { MigrationBusy, MigrationRefused } from "../../infra/migrate/run";

describe("PartmanStackError", () => {
  it("joins the problem and the fix into the message, and keeps them apart", () => {
    const e = new PartmanStackError("the cluster in /x is stopped", "run `npx partman-stack local start`");
    expect(e.message).toBe("the cluster in /x is stopped: run `npx partman-stack local start`");
    expect([e.problem, e.fix, e.exitCode]).toEqual(["the cluster in /x is stopped", "run `npx partman-stack local start`", 1]);
    expect(new PartmanStackError("a", "b", { join: "; " }).message).toBe("a; b");
    expect(new PartmanStackError("only the problem").message).toBe("only the problem");
    expect(e.cliText()).toBe(`error: ${e.message}`);
    expect(e.name).toBe("PartmanStackError");
  });

  it("lists several problems, each line its own, and a single ConfigError problem as it is", () => {
    expect(new ConfigError(["one"]).message).toBe("one");
    expect(new ConfigError(["one", "two"]).message).toBe("2 problems:\n- one\n- two");
    expect(new MigrationRefused(["x"]).message).toBe("migration refused:\n- x");
    const list = new ProblemList(["p"], () => "db is not ready:");
    expect(list.message).toBe("db is not ready:\n- p");
    expect(list.cliText()).toBe(list.message);
    expect(list).toBeInstanceOf(PartmanStackError);
  });

  it("carries the exit code a command documents: a busy migration is 4", () => {
    const busy = new MigrationBusy(["held by pid 1"]);
    expect(busy.exitCode).toBe(4);
    expect(busy).toBeInstanceOf(MigrationRefused);
    expect(new MigrationRefused(["x"]).exitCode).toBe(1);
  });

  it("is what the CLI prints and exits with, once, for every command", async () => {
    const writes: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (writes.push(s), true)) as typeof process.stderr.write;
    try {
      // A stack name Pulumi refuses: a ConfigError raised before any connection.
      expect(await main(["plan", "--stack", "no/such"])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(writes.join("")).toMatch(/^stack name "no\/such" is not a Pulumi stack name/);
  });
});
