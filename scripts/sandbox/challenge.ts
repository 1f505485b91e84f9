// The 3-D Secure challenge the shopper is redirected to: a small HTML page per PSP (acme
// /acme/v1/3ds/:id, bolt /bolt/redirect/:id) with approve and fail buttons posting a form back to the
// same URL, and `POST /_sandbox/3ds/:id {"result":"approve"|"fail"}` doing the same without a browser.
// Completing moves the charge (sandbox/later.ts), has the PSP notify the platform, then sends the
// shopper to the payment's return_url when it has one (else a done page). The page loads nothing from
// elsewhere and says so in its Content-Security-Policy.
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { z } from "zod";
import { toDecimalString } from "../../actors/payment/core/money.ts";
import { completeChallenge, isRefused, type Refused } from "./later.ts";
import type { Notifier, SentNotice } from "./notifier.ts";
import type { Charge, SimulatedPsp } from "./simulator.ts";

// form-action also governs where the form's answer may redirect: the shopper's way back is allowed.
const csp = (returnOrigin?: string) =>
  `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${returnOrigin ? ` ${returnOrigin}` : ""}; frame-ancestors 'none'`;
const PATHS: ReadonlyArray<[psp: string, path: string]> = [
  ["acme", "/acme/v1/3ds/:id"],
  ["bolt", "/bolt/redirect/:id"],
];
const Params = z.object({ id: z.string().min(1).max(64) });
const Result = z.enum(["approve", "fail"]);
const ControlBody = z.object({ result: Result, notify: z.boolean().default(true) }).strict();

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(
  reply: FastifyReply,
  status: number,
  title: string,
  inner: string,
  returnUrl?: string,
): FastifyReply {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:4rem auto}button{font-size:1rem;margin-right:1rem;padding:.5rem 1.5rem}</style>
</head><body><h1>${escape(title)}</h1>${inner}</body></html>`;
  return reply
    .code(status)
    .header("content-security-policy", csp(safeReturn(returnUrl) && new URL(returnUrl!).origin))
    .header("x-frame-options", "DENY")
    .header("cache-control", "no-store")
    .type("text/html; charset=utf-8")
    .send(html);
}

/** Only a web address may receive the shopper (never javascript: or data:). */
const safeReturn = (url: string | undefined) =>
  url !== undefined && URL.canParse(url) && ["https:", "http:"].includes(new URL(url).protocol)
    ? url
    : undefined;

export function challengeRoutes(
  psps: ReadonlyMap<string, SimulatedPsp>,
  notifier: Notifier,
  now: () => Date,
) {
  type Completed = { charge: Charge; notification: SentNotice };
  const complete = (pspName: string, id: string, approve: boolean, notify: boolean): Completed | Refused => {
    const psp = psps.get(pspName);
    if (!psp) return { refused: `no sandbox PSP named ${pspName}`, status: 404 };
    const done = completeChallenge(psp, id, approve, now());
    if (isRefused(done)) return done;
    const sent = notifier.notify(pspName, done, { withhold: !notify });
    return { charge: done.charge, notification: sent };
  };

  const routes: FastifyPluginCallback = (app, _opts, done) => {
    // The page's form posts application/x-www-form-urlencoded: read here, in this scope only.
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 1024 },
      (_req, body, cb) => cb(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    for (const [pspName, path] of PATHS) {
      app.get(path, async (req, reply) => {
        const params = Params.safeParse(req.params);
        const charge = params.success ? psps.get(pspName)?.charge(params.data.id) : undefined;
        if (!charge?.actionUrl)
          return page(reply, 404, "No such challenge", "<p>This challenge does not exist.</p>");
        if (charge.status !== "requires_action")
          return page(reply, 409, "Challenge over", `<p>This payment is ${escape(charge.status)}.</p>`);
        const amount = `${toDecimalString(charge.amount, charge.currency)} ${charge.currency}`;
        return page(
          reply,
          200,
          `${pspName} 3-D Secure`,
          `<p>Confirm the payment of <strong>${escape(amount)}</strong> with the card ending ${escape(charge.last4)}.</p>
<form method="post"><button type="submit" name="result" value="approve" id="approve">Approve</button><button type="submit" name="result" value="fail" id="fail">Fail</button></form>`,
          charge.returnUrl,
        );
      });
      app.post(path, async (req, reply) => {
        const params = Params.safeParse(req.params);
        const result = Result.safeParse((req.body as Record<string, unknown> | undefined)?.result);
        if (!params.success || !result.success)
          return page(reply, 400, "Bad request", "<p>Choose approve or fail.</p>");
        const r = complete(pspName, params.data.id, result.data === "approve", true);
        if (isRefused(r))
          return page(reply, r.status, "Challenge not completed", `<p>${escape(r.refused)}</p>`);
        const back = safeReturn(r.charge.returnUrl);
        if (back) return reply.code(303).header("location", back).send();
        return page(
          reply,
          200,
          "Done",
          `<p>The payment is ${escape(r.charge.status)}. You may close this page.</p>`,
        );
      });
    }
    app.post("/_sandbox/3ds/:id", async (req, reply) => {
      const params = Params.safeParse(req.params);
      const body = ControlBody.safeParse(req.body ?? {});
      if (!params.success || !body.success)
        return reply.code(400).send({ error: "expected {result: approve|fail}" });
      const owner = [...psps.values()].find((p) => p.charge(params.data.id)?.actionUrl !== undefined);
      if (!owner) return reply.code(404).send({ error: `no challenge ${params.data.id}` });
      const r = complete(owner.name, params.data.id, body.data.result === "approve", body.data.notify);
      if (isRefused(r)) return reply.code(r.status).send({ error: r.refused });
      return {
        challenge_id: params.data.id,
        psp: owner.name,
        status: r.charge.status,
        return_url: r.charge.returnUrl ?? null,
        notification: { id: r.notification.id, delivery: r.notification.delivery },
      };
    });
    done();
  };
  return routes;
}
