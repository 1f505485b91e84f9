// Stuck tab: payments whose outcome is waiting on something (GET /ops/payments/stuck), with why;
// per payment, a reason and either Requery (ask the PSP again) or Resolve (the operator decides
// the outcome). The answer (new status) or the error code and message is shown on the row.
import { describe, ops, query } from "./api.js";
import { byId, el, select, show, status, table } from "./dom.js";

export function initStuck() {
  byId("stuck-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void loadStuck();
  });
}

export async function loadStuck() {
  const form = /** @type {HTMLFormElement} */ (byId("stuck-form"));
  const olderThan = String(new FormData(form).get("older_than_s") ?? "").trim();
  status("stuck-status", "Loading…");
  try {
    const res = await ops("GET", `/payments/stuck${query({ older_than_s: olderThan })}`);
    status("stuck-status", `${res.payments.length} stuck payment(s).`);
    show(
      "stuck-list",
      table(
        res.payments,
        [
          ["Payment", (p) => el("code", {}, p.id)],
          ["Merchant", (p) => p.merchant_id],
          ["Status", (p) => p.status],
          ["PSP", (p) => p.psp],
          ["Since", (p) => p.since],
          ["Age (s)", (p) => p.age_s],
          ["Why", (p) => p.why],
          ["Act", (p) => actions(p)],
        ],
        { className: "stuck", empty: "No stuck payment.", rowData: (p) => ({ paymentId: p.id }) },
      ),
    );
  } catch (err) {
    status("stuck-status", describe(err), true);
  }
}

function actions(p) {
  const reason = el("input", { name: "reason", placeholder: "reason (required)", size: 18 });
  const outcome = select("outcome", ["authorized", "captured", "declined", "failed"]);
  const pspRef = el("input", { name: "psp_reference", placeholder: "PSP reference (optional)", size: 14 });
  const result = el("span", { className: "result", role: "status" });
  const buttons = [];
  const act = async (kind) => {
    const why = /** @type {HTMLInputElement} */ (reason).value.trim();
    if (!why) {
      setResult(result, "A reason is required.", true);
      return;
    }
    const body =
      kind === "requery"
        ? { reason: why }
        : {
            outcome: /** @type {HTMLSelectElement} */ (outcome).value,
            reason: why,
            .../** @type {HTMLInputElement} */ (
              pspRef.value.trim() && {
                psp_reference: /** @type {HTMLInputElement} */ (pspRef).value.trim(),
              }
            ),
          };
    for (const b of buttons) b.disabled = true;
    setResult(result, kind === "requery" ? "Asking the PSP…" : "Resolving…", false);
    try {
      const res = await ops("POST", `/payments/${encodeURIComponent(p.id)}/${kind}`, body);
      const s = res?.payment?.status ?? "?";
      const extra = kind === "requery" && res?.result !== undefined ? ` (${JSON.stringify(res.result)})` : "";
      setResult(result, `${kind === "requery" ? "Requeried" : "Resolved"}: status ${s}${extra}`, false);
      result.dataset.status = s;
    } catch (err) {
      setResult(result, describe(err), true);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };
  buttons.push(
    el("button", { type: "button", className: "requery", onclick: () => void act("requery") }, "Requery"),
    el("button", { type: "button", className: "resolve", onclick: () => void act("resolve") }, "Resolve"),
  );
  return el("div", { className: "actions" }, reason, buttons[0], outcome, pspRef, buttons[1], result);
}

function setResult(node, message, isError) {
  node.textContent = message;
  node.className = `result ${isError ? "error" : "ok"}`;
}
