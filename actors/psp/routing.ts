// Routing, for now: a static priority list from config, restricted to PSPs this worker can reach.
// Pure. The decision is recorded on the payment (PaymentRouted), so a replay never routes again.
import type { Route } from "../payment/commands.ts";

export function staticPriorityRoute(priority: readonly string[], known: ReadonlySet<string>): Route {
  return { strategy: "static_priority", candidates: priority.filter((p) => known.has(p)) };
}
