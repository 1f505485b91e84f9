// `npm run bench`'s options (scripts/bench/options.ts), read from a command line and an environment
// given here rather than the process's: every refusal names the option and what it must be, before
// anything starts (test/int/bench-cli.int.spec.ts runs the script itself for its exit codes).
import { expect } from "chai";
import {
  helpAsked,
  options,
  sectionOnly,
  UsageError,
  type CommandLine,
} from "../../scripts/bench/options.ts";

/** The first refusal of the command line, as the script meets them: its syntax, then the values. */
function refusal(argv: string[], env: CommandLine["env"] = {}): string | undefined {
  try {
    helpAsked(argv);
    options({ argv, env });
    return undefined;
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
}

describe("npm run bench's options (unit)", () => {
  it("asks for the help with --help or -h, among other options", () => {
    expect(helpAsked(["--help"])).to.equal(true);
    expect(helpAsked(["--duration", "5", "-h"])).to.equal(true);
    expect(helpAsked(["--duration", "5"])).to.equal(false);
  });

  it("refuses an unknown option, a stray argument and a flag without its value, or a switch with one", () => {
    const cases: Array<[string[], string]> = [
      [["--duration", "5", "--bogus"], "unknown option --bogus"],
      [["5"], 'unexpected argument "5"'],
      [["--rounds", "--procfile"], "--rounds needs a value"],
      [["--procfile=yes"], "--procfile takes no value"],
      [["--workers"], "--workers needs a value"],
    ];
    for (const [argv, message] of cases)
      expect(refusal(argv), argv.join(" ")).to.satisfy((m: string) => m.startsWith(message));
  });

  it("refuses a --workers list that is not worker counts 1-16, or one that repeats a count", () => {
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
    ];
    for (const [argv, message] of cases)
      expect(refusal(argv), argv.join(" ")).to.satisfy((m: string) => m.startsWith(message));
    expect(refusal([], { BENCH_WORKERS: "0" })).to.satisfy((m: string) =>
      m.startsWith(`--workers (BENCH_WORKERS) ${counts}, got "0"`),
    );
    expect(options({ argv: ["--workers", "1,2,3"], env: {} }).workers).to.deep.equal([1, 2, 3]);
  });

  it("refuses --only decompose with a flow of another kind, and an --only that is no flow or section", () => {
    const cases: Array<[string[], string]> = [
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
      [["--duration", "0"], "--duration (BENCH_DURATION) must be a number 1-3600"],
      [["--phases", "2", "--procfile"], "--phases runs the product in a closed loop"],
    ];
    for (const [argv, message] of cases)
      expect(refusal(argv), argv.join(" ")).to.satisfy((m: string) => m.startsWith(message));
    expect(refusal([], { BENCH_PROCFILE: "yes" })).to.equal('BENCH_PROCFILE must be 1 or 0, got "yes"');
    expect(sectionOnly({ argv: ["--only", "decompose"], env: {} })).to.equal("decompose");
  });

  it("reads values from flags before the environment, and the defaults otherwise", () => {
    const o = options({
      argv: ["--clients", "1", "--duration=8", "--no-endpoint"],
      env: { BENCH_DURATION: "30", BENCH_ROUNDS: "3" },
    });
    expect([o.concurrency, o.durationS, o.rounds, o.endpoint, o.tracing]).to.deep.equal([
      1,
      8,
      3,
      false,
      false,
    ]);
    const d = options({ argv: [], env: {} });
    expect([d.concurrency, d.durationS, d.rounds, d.endpoint, d.workers]).to.deep.equal([
      32,
      15,
      2,
      true,
      undefined,
    ]);
  });
});
