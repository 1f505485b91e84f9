// The layer rules `npm run verify` enforces (README, "Layers"). test/unit/layer-rules.unit.spec.ts
// proves each rule fails on a deliberate violation.
/**
 * The pure core, no I/O, is a place: each capability's `core/` folder (actors/payment/core/: the
 * decider; actors/policy/core/: the policies and their workflow; actors/settlement/core/: the
 * settlement contracts; actors/ledger/core/: the ledger's rules; actors/webhooks/core/ and
 * actors/merchants/core/: the webhook and merchant-key rules). A file put there is checked as pure
 * without anyone adding its name here; the I/O around it (actor, journal, stores, senders) stays
 * one folder up.
 */
const CORE = "^actors/[^/]+/core/";

/**
 * What streams/ may read of actors/: the schemas of the documents it stores, each for one reason.
 * - actors/policy/core/schemas.ts: the policy documents the policy store keeps in KV
 *   (policy-records.ts).
 * - actors/policy/core/validate.ts: the default policies are checked like an upload before they are
 *   seeded (policy-seed.ts), so a bad default stops the start instead of being stored.
 * - actors/policy/core/reports.ts: the worker reports the ops board keeps in KV (ops-board.ts,
 *   types only).
 * - actors/merchants/core/keys.ts: the scope set and the formats of ids and keys the merchants
 *   bucket's records are validated and written with (merchant-records.ts, merchant-keys.ts).
 */
const STORED_SCHEMAS = "^actors/(policy/core/(schemas|validate|reports)|merchants/core/keys)[.]ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment:
        "A file in a core folder (actors/<capability>/core/) imports nothing but zod, node:crypto's hashes (ids are digests) and the core folders: no I/O, no infrastructure.",
      severity: "error",
      from: { path: CORE },
      to: {
        pathNot: [CORE, "^node_modules/zod/", "^crypto$", "^node:crypto$"],
      },
    },
    {
      name: "streams-knows-no-domain",
      comment:
        "streams/ is storage (KV, streams, SQL) and holds no rule: it never imports the payment, a PSP, a role, the policy workflow, settlement, the ledger, webhooks or the gateway. Of actors/ it reads only the schemas of the documents it stores (STORED_SCHEMAS, each exception explained there).",
      severity: "error",
      from: { path: "^streams/", pathNot: ["^streams/infra[.]ts$", "^streams/client/"] },
      to: { path: "^(actors|gateway|scripts)/", pathNot: STORED_SCHEMAS },
    },
    {
      name: "client-reads-only-the-payment-core",
      comment:
        "streams/client/ is the client internal systems publish commands with (switchyard/client): it builds and checks commands with the payment's own pure core (ids, command schemas, the card-token format, the card-number rule), so a command it accepts is one the worker accepts, and ships with nothing else of actors/.",
      severity: "error",
      from: { path: "^streams/client/" },
      to: { path: "^(actors|gateway|scripts)/", pathNot: "^actors/payment/core/" },
    },
    {
      name: "infra-composes-only-the-policy-store",
      comment:
        "streams/infra.ts, what each process opens first, is held to the same rule with one more exception: it opens the process's one policy store with the policy workflow (actors/policy/store.ts), since the gateway's operator routes and the worker's live views share that one instance (a change applies to the views in the same process at once).",
      severity: "error",
      from: { path: "^streams/infra[.]ts$" },
      to: { path: "^(actors|gateway|scripts)/", pathNot: [STORED_SCHEMAS, "^actors/policy/store[.]ts$"] },
    },
    {
      name: "config-is-the-base",
      comment:
        "config/ (environment, secrets, logging, metrics, card sealing) imports nothing of the platform.",
      severity: "error",
      from: { path: "^config/" },
      to: { path: "^(actors|streams|gateway|scripts)/" },
    },
    {
      name: "nothing-imports-scripts",
      comment:
        "scripts/ is npm start, the sandbox and the bench: a production gateway or worker never loads it.",
      severity: "error",
      from: { path: "^(actors|streams|gateway|config)/" },
      to: { path: "^scripts/" },
    },
    {
      name: "gateway-does-not-host-actors",
      comment: "The gateway reads payments and sends commands; it never hosts actors or calls PSPs.",
      severity: "error",
      from: { path: "^gateway/" },
      to: {
        path: "^actors/(worker|role|janitor|failures|nact|main)[.]ts$|^actors/payment/(actor|registry|effect-runner)[.]ts$",
      },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.data)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6"],
  },
};
