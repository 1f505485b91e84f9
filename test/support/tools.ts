// The programs some tests drive besides node (promtool, curl, chromium). A missing one fails the
// test that needs it, saying which and how to install it — never a skip: a skipped check reads as a
// passed one in CI, and .ci/run installs every one of them, so a missing one there is a broken setup.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

export type Tool = "promtool" | "curl" | "chromium";

const WHY_AND_HOW: Record<Tool, { what: string; install: string }> = {
  promtool: {
    what: "the alert and recording rules and the /metrics exposition are checked with it",
    install:
      "install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), as .ci/run does",
  },
  curl: {
    what: "the curl that npm start's banner prints is run with it, as a newcomer pastes it",
    install: "install it (apt-get install -y --no-install-recommends curl), as .ci/run does",
  },
  chromium: {
    what: "the console and the 3-D Secure page are tested in it",
    install:
      "install Debian's chromium (apt-get install -y --no-install-recommends chromium), as .ci/run does, " +
      "or point CHROMIUM_PATH at a Chromium",
  },
};

/** The message of a missing tool: which, why the tests need it, how to install it. */
export function missingTool(tool: Tool, detail: string): Error {
  const { what, install } = WHY_AND_HOW[tool];
  return new Error(`${tool} is required and ${detail}: ${what}. To run these tests, ${install}.`);
}

/** Throws (failing the test) unless `command --version` runs. */
export function requireCommand(tool: "promtool" | "curl"): void {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") throw missingTool(tool, "not on PATH");
  if (r.error || r.status !== 0)
    throw missingTool(tool, `did not run (${String(r.error ?? `exit ${r.status}`)}: ${r.stderr})`);
}

/** Throws (failing the test) unless the executable at `path` exists and may be run. */
export function requireExecutable(tool: Tool, path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw missingTool(tool, `not found at ${path}`);
  }
}
