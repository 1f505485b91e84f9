// Payments tab: search with the filters of GET /ops/payments (newest first, paged by cursor; `q` finds
// a payment by its exact id, merchant reference or PSP reference, and one found opens), and a
// payment's timeline (GET /ops/payments/{id}/timeline): its events in order (each in words), attempts,
// operations, disputes, settlements, settlement lines and reconciliation exceptions.
import { describe, ops, query } from "./api.js";
import { byId, el, money, show, status, table, text } from "./dom.js";

let lastFilters = {};
let nextCursor = null;
let shown = [];

export function initPayments() {
  byId("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    lastFilters = filtersOf(/** @type {HTMLFormElement} */ (e.currentTarget));
    shown = [];
    void search(null);
  });
  byId("search-more").addEventListener("click", () => void search(nextCursor));
}

function filtersOf(form) {
  const f = {};
  for (const [name, value] of new FormData(form)) {
    const v = String(value).trim();
    if (!v) continue;
    // datetime-local is local time without a zone: sent as an instant.
    f[name] = name.startsWith("created_") ? new Date(v).toISOString() : v;
  }
  if (f.currency) f.currency = f.currency.toUpperCase();
  return f;
}

async function search(cursor) {
  status("search-status", "Searching…");
  try {
    const res = await ops("GET", `/payments${query({ ...lastFilters, cursor, limit: 50 })}`);
    shown = [...shown, ...res.payments];
    nextCursor = res.next_cursor;
    byId("search-more").hidden = !nextCursor;
    status("search-status", `${shown.length} payment(s)${nextCursor ? ", more available" : ""}.`);
    show("search-results", resultsTable(shown));
    if (!cursor && lastFilters.q && shown.length === 1) void openTimeline(shown[0].id);
  } catch (err) {
    status("search-status", describe(err), true);
  }
}

function resultsTable(rows) {
  return table(
    rows,
    [
      ["Payment", (p) => el("code", {}, p.id)],
      ["Merchant", (p) => p.merchant_id],
      ["Status", (p) => p.status],
      ["PSP", (p) => p.psp],
      ["Amount", (p) => money(p.amount, p.currency)],
      ["Captured", (p) => money(p.captured_amount, p.currency)],
      ["Refunded", (p) => money(p.refunded_amount, p.currency)],
      ["Reference", (p) => p.reference],
      ["Last 4", (p) => p.last4],
      ["Created", (p) => p.created_at],
    ],
    {
      className: "results",
      empty: "No payment matches.",
      onRow: (p) => void openTimeline(p.id),
      rowData: (p) => ({ paymentId: p.id }),
    },
  );
}

/** Shows one payment's timeline in the panel below the results. */
export async function openTimeline(id) {
  show("timeline", el("p", { className: "status" }, `Loading ${id}…`));
  try {
    const t = await ops("GET", `/payments/${encodeURIComponent(id)}/timeline`);
    show("timeline", timelinePanel(t));
  } catch (err) {
    show("timeline", el("p", { className: "error" }, describe(err)));
  }
}

function timelinePanel(t) {
  const p = t.payment ?? {};
  const events = [...(t.events ?? [])].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  return el(
    "div",
    { className: "panel", id: "timeline-panel", data: { paymentId: p.id ?? "" } },
    el("h2", {}, "Payment ", el("code", {}, text(p.id))),
    el(
      "p",
      {},
      "Status ",
      el("strong", { id: "timeline-status" }, text(p.status)),
      ` · ${money(p.amount, p.currency)} · merchant ${text(p.merchant_id ?? p.merchant)} · reference ${text(p.reference)}`,
    ),
    el("h3", {}, `Events (${events.length})`),
    table(
      events,
      [
        ["Seq", (e) => e.seq],
        ["No", (e) => e.event_no],
        ["At", (e) => e.at],
        ["Type", (e) => el("span", { className: "event-type" }, text(e.type))],
        ["What", (e) => text(e.label)],
        ["Trace", (e) => el("code", {}, text(e.trace_id))],
        ["Data", (e) => details(e.data)],
      ],
      { className: "events" },
    ),
    section("Attempts", p.attempts),
    section("Operations", p.operations),
    disputesSection(p),
    section("Settlements", p.settlements),
    section("Settlement lines", t.settlement_lines),
    section("Reconciliation exceptions", t.exceptions),
  );
}

/** Chargebacks the PSP notified: open until it says won or lost (the payment's status does not change). */
function disputesSection(p) {
  const list = Array.isArray(p.disputes) ? p.disputes : [];
  return el(
    "div",
    { id: "timeline-disputes" },
    el("h3", {}, `Disputes (${list.length})`),
    table(
      list,
      [
        ["Dispute", (d) => el("code", {}, text(d.id))],
        ["PSP", (d) => d.psp],
        ["Amount", (d) => money(d.amount, d.currency)],
        ["Reason", (d) => d.reason],
        ["Status", (d) => el("span", { className: "dispute-status" }, text(d.status))],
        ["Opened", (d) => d.opened_at],
        ["Closed", (d) => d.closed_at],
      ],
      { className: "disputes", empty: "None." },
    ),
  );
}

function section(title, rows) {
  const list = Array.isArray(rows) ? rows : [];
  return el("div", {}, el("h3", {}, `${title} (${list.length})`), table(list, undefined, { empty: "None." }));
}

function details(data) {
  if (data === undefined || data === null) return "—";
  return el("details", {}, el("summary", {}, "data"), el("pre", {}, JSON.stringify(data, null, 2)));
}
