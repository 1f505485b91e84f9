// Whether a read model may answer now: one being rebuilt from its stream answers 503
// read_model_rebuilding (an empty journal that balances, or a list without most payments, is not an
// answer); otherwise how many frames its followers set aside, which makes what it answers incomplete.
// The state is the database's (projection_offsets, follower_set_aside: streams/db/set-aside.ts), so
// every gateway agrees with every worker.
import { READ_MODELS } from "../actors/readmodels.ts";
import type { Sql } from "../streams/db/client.ts";
import { readModelStates, ReadModelStatus, type ReadModelState } from "../streams/db/set-aside.ts";
import { ApiError } from "./errors.ts";

/** A read model's state as /ops/read-models answers it (and the 503's details). */
export function stateBody(r: ReadModelState) {
  return {
    name: r.name,
    status: r.status,
    position: r.position,
    rebuild_to: r.rebuild_to,
    failing_since: r.failing_since?.toISOString() ?? null,
    last_error: r.last_error,
    set_aside: r.set_aside,
  };
}

/** Refuse (503 read_model_rebuilding) while one of `names` is being rebuilt; else the frames they set aside. */
export async function readModelsReady(
  sql: Sql,
  names: readonly string[] = READ_MODELS,
): Promise<{ setAside: number }> {
  const states = await readModelStates(sql, names);
  const rebuilding = states.filter((r) => r.status === ReadModelStatus.rebuilding);
  if (rebuilding.length > 0)
    throw new ApiError(
      "read_model_rebuilding",
      `being rebuilt from the streams (${rebuilding.map((r) => `${r.name} at ${r.position} of ${r.rebuild_to ?? 0}`).join(", ")}); retry later`,
      { read_models: rebuilding.map(stateBody) },
    );
  return { setAside: states.reduce((n, r) => n + r.set_aside, 0) };
}
