// `npm run bench`'s command line, run as npm would run it: --help prints the options and exits 0
// without starting anything; an unknown option, a stray argument or a flag without its value exits
// 2 with one line naming it, before anything starts.
import { expect } from "chai";
import { runScript } from "../support/cli.ts";

describe("npm run bench's command line", function () {
  this.timeout(120_000);
  const bench = (...args: string[]) => runScript("scripts/bench.ts", args, {});

  it("prints its options for --help and exits 0 without running anything", async () => {
    for (const flag of ["--help", "-h"]) {
      const r = await bench(flag);
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
    }
  });

  it("refuses an unknown option, a stray argument and a flag without its value with exit 2", async () => {
    const cases: Array<[string[], string]> = [
      [["--duration", "5", "--bogus"], "unknown option --bogus"],
      [["5"], 'unexpected argument "5"'],
      [["--rounds", "--procfile"], "--rounds needs a value"],
      [["--procfile=yes"], "--procfile takes no value"],
      [["--workers"], "--workers needs a value"],
    ];
    for (const [args, message] of cases) {
      const r = await bench(...args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.startsWith(`bench: ${message}`), r.stderr).to.equal(true);
      expect(r.stderr.trim().split("\n"), args.join(" ")).to.have.length(1);
      expect(r.stdout).to.equal("");
    }
  });

  it("refuses a --workers list that is not worker counts 1-16, or one that repeats a count, with exit 2", async () => {
    const counts = "must be worker counts 1-16, comma-separated (e.g. 1,2,3)";
    const cases: Array<[string[], string]> = [
      [["--workers", "0"], `--workers (BENCH_WORKERS) ${counts}, got "0"`],
      [["--workers", "x"], `--workers (BENCH_WORKERS) ${counts}, got "x"`],
      [["--workers=1,,3"], `--workers (BENCH_WORKERS) ${counts}, got "1,,3"`],
      [["--workers", "2.5"], `--workers (BENCH_WORKERS) ${counts}, got "2.5"`],
      [["--workers", "17"], `--workers (BENCH_WORKERS) ${counts}, got "17"`],
      [["--workers", "1,2,1"], `--workers (BENCH_WORKERS) lists a count twice: "1,2,1"`],
      [["--workers", "2", "--procfile"], "--workers runs its own closed-loop rounds: not with"],
      [["--workers", "1,2", "--phases", "3"], "--workers runs its own closed-loop rounds: not with"],
      [["--workers", "2", "--only", "product"], "--workers runs its own closed-loop rounds: not with"],
      [
        ["--only", "decompose", "--phases", "2"],
        "--only decompose runs four closed-loop flows of its own: not with",
      ],
      [
        ["--only", "decompose", "--open-loop", "300"],
        "--only decompose runs four closed-loop flows of its own",
      ],
      [["--only", "decompose", "--embedded"], "--only decompose runs four closed-loop flows of its own"],
      [
        ["--only", "decomposed"],
        "--only (BENCH_ONLY) must be bare, product, procfile, settlement, search, webhooks or decompose",
      ],
    ];
    for (const [args, message] of cases) {
      const r = await bench(...args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.startsWith(`bench: ${message}`), r.stderr).to.equal(true);
      expect(r.stderr.trim().split("\n"), args.join(" ")).to.have.length(1);
      expect(r.stdout).to.equal("");
    }
    // The environment variable is checked the same way.
    const r = await runScript("scripts/bench.ts", [], { BENCH_WORKERS: "0" });
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr.startsWith(`bench: --workers (BENCH_WORKERS) ${counts}, got "0"`), r.stderr).to.equal(
      true,
    );
  });
});
