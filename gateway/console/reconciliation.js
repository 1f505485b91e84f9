// Reconciliation tab: the open exceptions (GET /ops/reconciliation/exceptions?status=open) and their
// resolution with a reason; shown only where settlement is configured (else the route is a 404).
import { describe, ops } from "./api.js";
import { el, money, select, show, status, table } from "./dom.js";

export async function loadReconciliation() {
  status("reconciliation-status", "Loading…");
  try {
    const res = await ops("GET", "/reconciliation/exceptions?status=open&limit=200");
    status(
      "reconciliation-status",
      `${res.exceptions.length} open exception(s)${res.next_after ? " (first 200)" : ""}.`,
    );
    show(
      "reconciliation-list",
      table(
        res.exceptions,
        [
          ["Exception", (x) => el("code", {}, x.id)],
          ["Kind", (x) => x.kind],
          ["PSP", (x) => x.psp],
          ["Payment", (x) => x.payment_id],
          ["Amount", (x) => money(x.amount, x.currency)],
          ["Detail", (x) => x.detail],
          ["Opened", (x) => x.opened_at],
          ["Resolve", (x) => resolveForm(x)],
        ],
        { className: "exceptions", empty: "No open exception.", rowData: (x) => ({ exceptionId: x.id }) },
      ),
    );
  } catch (err) {
    if (err && err.status === 404) {
      status("reconciliation-status", "Reconciliation is not configured on this gateway.");
      show("reconciliation-list");
    } else status("reconciliation-status", describe(err), true);
  }
}

function resolveForm(x) {
  const resolution = select("resolution", ["accept", "write_off", "link", "requery"]);
  const paymentId = el("input", { name: "payment_id", placeholder: "payment id (link)", size: 14 });
  const reason = el("input", { name: "reason", placeholder: "reason (required)", size: 16 });
  const result = el("span", { className: "result" });
  const button = el(
    "button",
    {
      type: "button",
      onclick: async () => {
        const why = /** @type {HTMLInputElement} */ (reason).value.trim();
        const how = /** @type {HTMLSelectElement} */ (resolution).value;
        const pid = /** @type {HTMLInputElement} */ (paymentId).value.trim();
        if (!why) {
          result.textContent = "A reason is required.";
          result.className = "result error";
          return;
        }
        button.disabled = true;
        try {
          const r = await ops("POST", `/reconciliation/exceptions/${encodeURIComponent(x.id)}/resolve`, {
            resolution: how,
            reason: why,
            ...(how === "link" && pid && { payment_id: pid }),
          });
          result.textContent = `${r.status} (${r.resolution}, ${money(r.amount, r.currency)})`;
          result.className = "result ok";
        } catch (err) {
          result.textContent = describe(err);
          result.className = "result error";
          button.disabled = false;
        }
      },
    },
    "Resolve",
  );
  return el("div", { className: "actions" }, resolution, paymentId, reason, button, result);
}
