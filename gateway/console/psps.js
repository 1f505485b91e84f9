// PSPs tab (GET /ops/psps: rotation and merged health; Out / In with a reason) and Policies tab
// (GET /ops/policies: the active version of each kind; GET /ops/policies/routing/shadow: how the
// shadow routing version diverges from the active one, when one is set).
import { describe, ops } from "./api.js";
import { el, show, status, table, text } from "./dom.js";

const pct = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(1)} %`);
/** A latency in whole milliseconds with its unit (the workers report fractions of a millisecond). */
const ms = (v) =>
  v === null || v === undefined || !(v > 0) ? "—" : v < 1 ? "< 1 ms" : `${Math.round(v)} ms`;

export async function loadPsps() {
  status("psps-status", "Loading…");
  try {
    const res = await ops("GET", "/psps");
    status("psps-status", `${res.psps.length} PSP(s).`);
    show(
      "psps-list",
      table(
        res.psps,
        [
          ["PSP", (p) => el("strong", {}, p.name)],
          ["Rotation", (p) => (p.rotation.in ? "in" : "OUT")],
          ["Rotation note", (p) => rotationNote(p.rotation)],
          ["Circuit", (p) => p.health.circuit ?? "no report"],
          ["Success", (p) => pct(p.health.success_rate)],
          ["Failure", (p) => pct(p.health.failure_rate)],
          ["Samples", (p) => p.health.samples],
          ["p95 latency", (p) => ms(Math.max(0, ...p.health.workers.map((w) => w.latency_ms.p95 ?? 0)))],
          ["Workers", (p) => p.health.workers.length],
          ["Currencies", (p) => p.capabilities.currencies.join(" ")],
          ["Act", (p) => rotationActions(p)],
        ],
        { className: "psps", rowData: (p) => ({ psp: p.name }) },
      ),
    );
  } catch (err) {
    status("psps-status", describe(err), true);
  }
}

function rotationNote(r) {
  if (!r.at) return "—";
  return `${r.in ? "in" : "out"} since ${r.at}${r.by ? ` by ${r.by}` : ""}${r.reason ? `: ${r.reason}` : ""}`;
}

function rotationActions(p) {
  const reason = el("input", { name: "reason", placeholder: "reason", size: 16 });
  const result = el("span", { className: "result" });
  const direction = p.rotation.in ? "out" : "in";
  const button = el(
    "button",
    {
      type: "button",
      className: `rotate-${direction}`,
      onclick: async () => {
        const why = /** @type {HTMLInputElement} */ (reason).value.trim();
        button.disabled = true;
        try {
          await ops("POST", `/psps/${encodeURIComponent(p.name)}/${direction}`, why ? { reason: why } : {});
          await loadPsps();
        } catch (err) {
          result.textContent = describe(err);
          result.className = "result error";
          button.disabled = false;
        }
      },
    },
    direction === "out" ? "Force out" : "Put back in",
  );
  return el("div", { className: "actions" }, reason, button, result);
}

export async function loadPolicies() {
  status("policies-status", "Loading…");
  try {
    const [res, shadow] = await Promise.all([
      ops("GET", "/policies"),
      ops("GET", "/policies/routing/shadow"),
    ]);
    status("policies-status", "");
    show(
      "policies-list",
      el("h3", {}, "Active versions"),
      table(res.policies, [
        ["Kind", (p) => p.kind],
        ["Active", (p) => p.active_version],
        ["Activated", (p) => p.activated_at],
        ["By", (p) => p.activated_by],
        ["Versions", (p) => p.versions],
        ["Shadow", (p) => (p.kind === "routing" ? p.shadow_version : "")],
      ]),
    );
    show("shadow", shadowPanel(shadow));
  } catch (err) {
    status("policies-status", describe(err), true);
  }
}

function shadowPanel(s) {
  if (s.version === null) return el("p", { className: "status" }, "No shadow routing version is set.");
  const choice = (c) => `${text(c.psp)} (fee ${text(c.expected_fee)}, rule ${text(c.rule_id)})`;
  return el(
    "div",
    { className: "panel" },
    el("h3", {}, `Shadow routing version ${s.version}`),
    el(
      "p",
      {},
      `${s.decisions} decision(s) over ${s.workers} worker(s): PSP differs in ${s.diverged_psp} ` +
        `(${pct(s.divergence_rate)}), fee differs in ${s.diverged_fee}.`,
    ),
    table(
      s.samples,
      [
        ["At", (x) => x.at],
        ["Payment", (x) => el("code", {}, x.payment_id)],
        ["Active", (x) => choice(x.active)],
        ["Shadow", (x) => choice(x.shadow)],
        ["Worker", (x) => x.worker_id],
      ],
      { empty: "No divergence recorded." },
    ),
  );
}
