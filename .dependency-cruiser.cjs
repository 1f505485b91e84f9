// The layer rules `npm run verify` enforces (README, "Layers"). test/unit/layer-rules.unit.spec.ts
// proves each rule fails on a deliberate violation.
/** The pure core: the payment decider, the policies, the settlement contracts and the ledger's rules, no I/O. */
const CORE =
  "^actors/(payment/(commands|contract|card|decide|decide-after|decide-notified|decision|effects|events|evolve|ids|money|notification|result|state|view|wire)|policy/(conditions|decision|fees|region|reports|retry|router|schemas|validate)|settlement/(line|exceptions|match)|ledger/(accounts|entry|postings|resolutions|export)|webhooks/(event-types|url-policy|catalog|signature))[.]ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment:
        "The pure core imports nothing but zod, node:crypto's hashes (ids are digests) and itself: no I/O, no infrastructure.",
      severity: "error",
      from: { path: CORE },
      to: {
        pathNot: [CORE, "^node_modules/zod/", "^crypto$", "^node:crypto$"],
      },
    },
    {
      name: "streams-knows-no-payment",
      comment:
        "streams/ is infrastructure: it stores and reads frames and sequences. It never imports the payment (decider, evolve, state, events) nor any role; of the core it reads only the policy documents it keeps in KV.",
      severity: "error",
      from: { path: "^streams/" },
      to: { path: "^(actors/(payment/|psp/|[^/]+[.]ts$)|gateway/|scripts/)" },
    },
    {
      name: "streams-reads-only-policy-documents",
      comment:
        "Of actors/policy, streams/ may use the documents' schemas and their validator, nothing that routes.",
      severity: "error",
      from: { path: "^streams/" },
      to: {
        path: "^actors/policy/",
        pathNot: "^actors/policy/(schemas|decision|reports|validate|conditions|region|fees)[.]ts$",
      },
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
