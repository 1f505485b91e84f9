// The operators' console: log in with an operator key (checked against GET /ops/psps, kept in
// sessionStorage for this tab only), then one tab per concern. Plain ES modules, no build step,
// no dependency; every byte of data goes into the page as text.
import { describe, ops, session, whenUnauthorized } from "./api.js";
import { byId, status } from "./dom.js";
import { initPayments } from "./payments.js";
import { loadPolicies, loadPsps } from "./psps.js";
import { loadReconciliation } from "./reconciliation.js";
import { initStuck, loadStuck } from "./stuck.js";
import { initCluster, loadCluster } from "./cluster.js";

const LOADERS = {
  payments: () => undefined,
  stuck: loadStuck,
  psps: loadPsps,
  policies: loadPolicies,
  reconciliation: loadReconciliation,
  cluster: loadCluster,
};

function openTab(name) {
  for (const button of document.querySelectorAll("#tabs button"))
    button.setAttribute("aria-selected", String(button.getAttribute("data-tab") === name));
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  void LOADERS[name]?.();
}

function loggedIn(yes) {
  byId("login").hidden = yes;
  byId("app").hidden = !yes;
  byId("logout").hidden = !yes;
  if (yes) openTab("payments");
}

function logOut(message = "") {
  session.clear();
  sessionStorage.clear();
  loggedIn(false);
  status("login-error", message, message !== "");
  byId("key").focus();
}

async function logIn(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId("key"));
  const key = input.value.trim();
  status("login-error", "Checking the key…");
  try {
    await ops("GET", "/psps", undefined, key);
    session.set(key);
    input.value = "";
    status("login-error", "");
    loggedIn(true);
  } catch (err) {
    const refused = err && (err.status === 401 || err.status === 403);
    status("login-error", refused ? `This key is refused (${describe(err)}).` : describe(err), true);
  }
}

function start() {
  byId("login-form").addEventListener("submit", (e) => void logIn(e));
  byId("logout").addEventListener("click", () => logOut());
  for (const button of document.querySelectorAll("#tabs button"))
    button.addEventListener("click", () => openTab(button.getAttribute("data-tab") ?? "payments"));
  whenUnauthorized((err) => logOut(`Logged out: ${describe(err)}`));
  initPayments();
  initStuck();
  initCluster();
  loggedIn(session.key() !== null);
}

start();
