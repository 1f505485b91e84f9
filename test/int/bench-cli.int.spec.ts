// `npm run bench`'s command line, run as npm would run it: --help prints the options and exits 0
// without starting anything; a bad option, on the command line or in the environment, exits 2 with
// one line naming it, before anything starts. Every refusal's wording is checked against the options'
// reader in-process (test/unit/bench-options.unit.spec.ts): each run here costs a tsx start.
import { expect } from "chai";
import { runScript } from "../support/cli.ts";

describe("npm run bench's command line", function () {
  this.timeout(120_000);

  it("prints its options for --help and exits 0 without running anything", async () => {
    const r = await runScript("scripts/bench.ts", ["--help"], {});
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^Usage: npm run bench -- \[options\]/);
    for (const option of [
      "--concurrency",
      "--duration",
      "--only",
      "--procfile",
      "--open-loop",
      "--workers",
      "decompose",
      "--help",
    ])
      expect(r.stdout).to.include(option);
    // Nothing started: no progress line, no report.
    expect(r.stderr).to.equal("");
    expect(r.stdout).not.to.include("BENCH_RESULT");
  });

  it("refuses a bad option on the command line or in the environment with exit 2 and one line", async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [["--duration", "5", "--bogus"], {}, "unknown option --bogus"],
      [["--workers", "1,2,1"], {}, `--workers (BENCH_WORKERS) lists a count twice: "1,2,1"`],
      [[], { BENCH_WORKERS: "0" }, `--workers (BENCH_WORKERS) must be worker counts 1-16`],
    ];
    for (const [args, env, message] of cases) {
      const r = await runScript("scripts/bench.ts", args, env);
      const what = `${args.join(" ")} ${JSON.stringify(env)}`;
      expect(r.code, `${what}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.startsWith(`bench: ${message}`), r.stderr).to.equal(true);
      expect(r.stderr.trim().split("\n"), what).to.have.length(1);
      expect(r.stdout).to.equal("");
    }
  });
});
