// How the platform's durable pull consumers (a partition's commands, the settler's lines) ask
// JetStream for messages: how long a pull waits, the heartbeat it asks for, and what the client does
// when a pull is lost.
/**
 * How long one pull request waits on the server, and the idle heartbeat it asks for. A command is
 * delivered the moment it is stored whatever these are (a pull is waiting for it); they set what an
 * idle partition costs, and how soon a pull the server lost is noticed: the server sends a heartbeat
 * every `idle_heartbeat` while it has nothing and ends the pull after `expires`; two missed
 * heartbeats make the client pull again.
 * - One server (replicas 1): a pull is lost only with the connection, and the client pulls again
 *   on the reconnect by itself. 30 s / 120 s: the client's defaults (15 s / 30 s) made 64 idle
 *   partitions ~4 heartbeats and ~2 re-pulls a second.
 * - A cluster (replicas > 1): when a partition's consumer changes leader (its node died), its pulls
 *   die with the old leader while the connection, to another node, stays up: nats-server 2.9 tells
 *   the client nothing, so the heartbeat is the time to notice. With 30 s the partition stalled a
 *   minute or more (test/e2e/cluster-faults.e2e.spec.ts failed 5 runs in 6); 2.5 s / 20 s, as the
 *   event tap's ordered consumers, costs ~26 heartbeats a second for 64 idle partitions.
 */
function pullTerms(replicas: number): { expires: number; idle_heartbeat: number } {
  return replicas > 1
    ? { expires: 20_000, idle_heartbeat: 2_500 }
    : { expires: 120_000, idle_heartbeat: 30_000 };
}
/**
 * `consume()` options for a durable consumer of ours: the pull terms above, and `bind`. Missed
 * heartbeats (or a reconnect) then pull again at once, every heartbeat until one lands. Without
 * `bind` the client first asks for the consumer's info, and when that fails — its leader is being
 * elected after a node died — waits a whole `expires` before asking again (20 s on a cluster, 120 s
 * on one server) while the consumer's messages wait undelivered: a payment stuck `authorizing` for
 * over 30 s in test/e2e/cluster-faults.e2e.spec.ts. The consumer is durable and created by us, so
 * the client has nothing to learn from its info.
 */
export function durablePulls(replicas: number): { expires: number; idle_heartbeat: number; bind: true } {
  return { ...pullTerms(replicas), bind: true };
}
