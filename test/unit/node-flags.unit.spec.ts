// The V8 flags of config/node-flags.ts are given on command lines the code cannot reach (a flag set
// at run time changes nothing): every place that starts a Switchyard process must carry them all,
// or that process runs heavier than the one measured, with nothing to say so.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { NODE_FLAGS, missingNodeFlags } from "../../config/node-flags.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, "utf8");

/** The flags between `node`/`tsx` and the entry point of a command line. */
function flagsOf(command: string): string[] {
  const words = command.trim().split(/\s+/);
  const at = words.findIndex((w) => w === "node" || w === "tsx");
  expect(at, `no node or tsx in ${JSON.stringify(command)}`).to.be.at.least(0);
  const flags: string[] = [];
  for (const w of words.slice(at + 1)) {
    if (!w.startsWith("--")) break;
    flags.push(w);
  }
  return flags;
}

describe("node flags: every process is started with config/node-flags.ts", () => {
  it("npm start and npm run bench (package.json)", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const name of ["start", "bench"]) {
      const script = scripts[name];
      expect(script, name).to.be.a("string");
      expect(flagsOf(script ?? ""), name).to.include.members([...NODE_FLAGS]);
    }
  });

  it("the Procfile's gateway, worker and projector", () => {
    const lines = new Map(
      read("Procfile")
        .split("\n")
        .filter((l) => l.includes(":"))
        .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)] as const),
    );
    for (const role of ["gateway", "worker", "projector"]) {
      const line = lines.get(role);
      expect(line, role).to.be.a("string");
      expect(flagsOf(line ?? ""), role).to.include.members([...NODE_FLAGS]);
    }
  });

  it("the image's NODE_OPTIONS (deploy/Dockerfile)", () => {
    const m = /NODE_OPTIONS="([^"]*)"/.exec(read("deploy/Dockerfile"));
    expect(m, "NODE_OPTIONS in deploy/Dockerfile").to.not.equal(null);
    expect(missingNodeFlags([], m?.[1])).to.deep.equal([]);
  });

  it("missingNodeFlags reads the command line and NODE_OPTIONS, and names what is missing", () => {
    expect(missingNodeFlags([], undefined)).to.deep.equal([...NODE_FLAGS]);
    expect(missingNodeFlags([...NODE_FLAGS], undefined)).to.deep.equal([]);
    expect(
      missingNodeFlags(["--import", "tsx"], `  --enable-source-maps ${NODE_FLAGS.join("  ")} `),
    ).to.deep.equal([]);
    // Another value of the same flag is not the measured one.
    expect(missingNodeFlags(["--max-semi-space-size=16"], undefined)).to.deep.equal([...NODE_FLAGS]);
  });
});
