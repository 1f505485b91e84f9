// Temporary directories a test run makes (each platform's data directory: testEnv), removed by the
// run's global teardown (test/setup/services.ts) whatever a spec did: a spec that forgot its own, or
// failed before its cleanup, leaves nothing under the system's temp directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RUN_DIRS = Symbol.for("switchyard.test.runDirs");

// One set per process, not per module instance: mocha loads the setup file with require and some
// specs through import (tsx gives each its own copy of this module), and a set of the module's own
// was empty in the teardown for the specs loaded the other way.
const made: Set<string> = ((globalThis as { [RUN_DIRS]?: Set<string> })[RUN_DIRS] ??= new Set<string>());

/** A new directory under the system's temp directory, removed at the end of the run at the latest. */
export function runDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every directory this run made (those already removed are skipped); how many were left. */
export function removeRunDirs(): number {
  let left = 0;
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true });
      left++;
    } catch {
      // already removed by its spec
    }
  }
  made.clear();
  return left;
}
