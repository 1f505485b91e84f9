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
      for (const option of ["--concurrency", "--duration", "--only", "--procfile", "--open-loop", "--help"])
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
    ];
    for (const [args, message] of cases) {
      const r = await bench(...args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.startsWith(`bench: ${message}`), r.stderr).to.equal(true);
      expect(r.stderr.trim().split("\n"), args.join(" ")).to.have.length(1);
      expect(r.stdout).to.equal("");
    }
  });
});
