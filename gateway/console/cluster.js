// Cluster tab (GET /ops/cluster): the workers with their partitions and heartbeat age, and a grid
// of the partitions colored by owner; a partition with no lease is marked unowned, one whose owner
// has no member entry (a worker that stopped heartbeating) is marked too. Refreshed every few
// seconds while the tab is open, so a rebalance can be watched.
import { describe, ops } from "./api.js";
import { byId, el, show, status, table } from "./dom.js";

const REFRESH_MS = 5_000;
/** Owner colors: classes owner-0 … owner-7 of console.css (cycled past eight workers). */
const COLORS = 8;

export function initCluster() {
  byId("cluster-refresh").addEventListener("click", () => void loadCluster());
  setInterval(() => {
    if (!byId("app").hidden && !byId("tab-cluster").hidden) void loadCluster(false);
  }, REFRESH_MS);
}

export async function loadCluster(announce = true) {
  if (announce) status("cluster-status", "Loading…");
  try {
    const c = await ops("GET", "/cluster");
    const owned = c.partitions - c.unowned.length;
    const unreadable = c.unreadable > 0 ? ` ${c.unreadable} entry(ies) unreadable, skipped.` : "";
    status(
      "cluster-status",
      `${c.members.length} worker(s); ${owned} of ${c.partitions} partition(s) owned, ` +
        `${c.unowned.length} unowned. Lease TTL ${seconds(c.lease_ttl_ms)}.${unreadable}`,
      c.unowned.length > 0 || c.owners_not_members.length > 0,
    );
    const colorOf = ownerColors(c);
    show(
      "cluster-members",
      table(
        c.members,
        [
          ["Worker", (m) => el("span", { className: `swatch ${colorOf(m.worker_id)}` }, m.worker_id)],
          ["Host", (m) => `${m.host} (pid ${m.pid})`],
          ["Heartbeat age", (m) => seconds(m.heartbeat_age_ms)],
          ["Partitions", (m) => m.partitions.join(" ")],
          ["Leases held", (m) => m.owned],
          ["Started", (m) => m.started_at],
          ["Last rebalance", (m) => rebalance(m.last_rebalance)],
        ],
        {
          className: "members",
          empty: "No worker has a member entry.",
          rowData: (m) => ({ worker: m.worker_id }),
        },
      ),
    );
    show("cluster-grid", grid(c, colorOf));
    show(
      "cluster-notes",
      c.last_rebalance &&
        el("p", {}, `Last rebalance: ${c.last_rebalance.worker_id}, ${rebalance(c.last_rebalance)}.`),
      ...c.owners_not_members.map((o) =>
        el(
          "p",
          { className: "error not-member" },
          `${o.worker_id} holds partition(s) ${o.partitions.join(" ")} but has no member entry: ` +
            "its heartbeat stopped; its leases expire within the TTL.",
        ),
      ),
    );
  } catch (err) {
    status("cluster-status", describe(err), true);
  }
}

/** One class per owner: members first (by id), then lease owners that are not members. */
function ownerColors(c) {
  const owners = [...c.members.map((m) => m.worker_id), ...c.owners_not_members.map((o) => o.worker_id)];
  const index = new Map(owners.map((id, i) => [id, i]));
  return (owner) => `owner-${(index.get(owner) ?? 0) % COLORS}`;
}

function grid(c, colorOf) {
  const stale = new Set(c.owners_not_members.map((o) => o.worker_id));
  const cells = c.leases.map((l) => {
    const classes = ["partition"];
    if (l.owner === null) classes.push("unowned");
    else {
      classes.push(colorOf(l.owner));
      if (stale.has(l.owner)) classes.push("not-member");
    }
    const title =
      l.owner === null
        ? `partition ${l.partition}: unowned`
        : `partition ${l.partition}: ${l.owner}, renewed ${seconds(l.age_ms)} ago, revision ${l.revision}`;
    return el(
      "div",
      {
        className: classes.join(" "),
        title,
        data: { partition: String(l.partition), owner: l.owner ?? "" },
      },
      el("span", { className: "number" }, l.partition),
      el("span", { className: "who" }, l.owner ?? "unowned"),
    );
  });
  return el("div", { className: "partition-grid" }, ...cells);
}

function seconds(ms) {
  return ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;
}

function rebalance(r) {
  return r ? `${r.at}: +${r.gained} −${r.lost}` : "—";
}
