// The sandbox's controls over what its PSPs notify, for tests and demos:
//   GET  /_sandbox/notifications?psp=&reference=    every notification kept, with its delivery
//                                                   ("sending" | "delivered" | "failed" | "withheld"
//                                                   | "no_url") and its attempts (time, status/error)
//   POST /_sandbox/notifications {url, psp?}         where to send: `<url>/<psp>` for every PSP, or
//                                                   with `psp` that PSP's own full URL
//   POST /_sandbox/psps/:psp/notifications/replay {id}   the same notification again, correctly signed
//   POST /_sandbox/psps/:psp/notifications/forge {id?}   a copy (default: the latest) whose signature
//                                                   is not the PSP's; sent once, no retries
//   POST /_sandbox/psps/:psp/disputes {reference | pspReference, amount?, reason?}   the issuer opens a
//                                                   chargeback on a captured charge
//   POST /_sandbox/psps/:psp/disputes/:id/close {outcome: "won" | "lost"}
// Each dispute control has the PSP notify it. The answers are JSON.
import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { z } from "zod";
import { closeDispute, isRefused, openDispute, type Happening, type Refused } from "./later.ts";
import type { Notifier, SentNotice } from "./notifier.ts";
import type { SimulatedPsp } from "./simulator.ts";

const SetUrl = z
  .object({ url: z.url({ protocol: /^https?$/ }).nullable(), psp: z.string().optional() })
  .strict();
const Replay = z.object({ id: z.string().min(1) }).strict();
const Forge = z.object({ id: z.string().min(1).optional() }).strict();
const Open = z
  .object({
    reference: z.string().min(1).optional(),
    pspReference: z.string().min(1).optional(),
    amount: z.number().int().min(1).optional(),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine(
    (b) => (b.reference === undefined) !== (b.pspReference === undefined),
    "give reference or pspReference",
  );
const Close = z.object({ outcome: z.enum(["won", "lost"]) }).strict();
const ListQuery = z.object({ psp: z.string().optional(), reference: z.string().optional() });

const summary = (n: SentNotice) => ({
  id: n.id,
  psp: n.psp,
  type: n.type,
  delivery: n.delivery,
  forged: n.forged,
});

export function notificationRoutes(
  psps: ReadonlyMap<string, SimulatedPsp>,
  notifier: Notifier,
  now: () => Date,
) {
  const bad = (reply: FastifyReply, error: z.ZodError) =>
    reply.code(400).send({ error: z.prettifyError(error) });
  const refused = (reply: FastifyReply, r: Refused) => reply.code(r.status).send({ error: r.refused });
  const pspOf = (reply: FastifyReply, name: string) => {
    const psp = psps.get(name);
    if (!psp) void reply.code(404).send({ error: `no sandbox PSP named ${name}` });
    return psp;
  };
  const happened = (psp: SimulatedPsp, h: Happening | Refused, reply: FastifyReply) => {
    if (isRefused(h)) return refused(reply, h);
    if (h.kind !== "dispute_opened" && h.kind !== "dispute_closed") throw new Error("not a dispute");
    const n = notifier.notify(psp.name, h);
    return reply.code(h.kind === "dispute_opened" ? 201 : 200).send({
      dispute: { ...h.dispute, psp: psp.name, charge: h.charge.id, reference: h.charge.reference },
      notification: summary(n),
    });
  };

  const routes: FastifyPluginCallback = (app, _opts, done) => {
    app.get("/_sandbox/notifications", async (req, reply) => {
      const q = ListQuery.safeParse(req.query);
      if (!q.success) return bad(reply, q.error);
      const { psp, reference } = q.data;
      return { notifications: notifier.list({ ...(psp && { psp }), ...(reference && { reference }) }) };
    });
    app.post("/_sandbox/notifications", async (req, reply) => {
      const body = SetUrl.safeParse(req.body ?? {});
      if (!body.success) return bad(reply, body.error);
      if (body.data.psp !== undefined && !pspOf(reply, body.data.psp)) return reply;
      notifier.setUrl(body.data.url ?? undefined, body.data.psp);
      return { urls: Object.fromEntries([...psps.keys()].map((p) => [p, notifier.urlOf(p) ?? null])) };
    });
    app.post("/_sandbox/psps/:psp/notifications/replay", async (req, reply) => {
      const psp = pspOf(reply, (req.params as { psp: string }).psp);
      if (!psp) return reply;
      const body = Replay.safeParse(req.body ?? {});
      if (!body.success) return bad(reply, body.error);
      const n = notifier.replay(psp.name, body.data.id);
      return n ? summary(n) : reply.code(404).send({ error: `no notification ${body.data.id}` });
    });
    app.post("/_sandbox/psps/:psp/notifications/forge", async (req, reply) => {
      const psp = pspOf(reply, (req.params as { psp: string }).psp);
      if (!psp) return reply;
      const body = Forge.safeParse(req.body ?? {});
      if (!body.success) return bad(reply, body.error);
      const n = notifier.forge(psp.name, body.data.id);
      return n ? summary(n) : reply.code(404).send({ error: "no notification to forge" });
    });
    app.post("/_sandbox/psps/:psp/disputes", async (req, reply) => {
      const psp = pspOf(reply, (req.params as { psp: string }).psp);
      if (!psp) return reply;
      const body = Open.safeParse(req.body ?? {});
      if (!body.success) return bad(reply, body.error);
      const { reference, pspReference, amount, reason } = body.data;
      const charge = psp
        .charges()
        .filter((c) => c.id === pspReference || c.reference === reference)
        .find((c) => c.capturedAmount > 0);
      if (!charge) return reply.code(404).send({ error: "no captured charge with that reference" });
      const opts = { ...(amount !== undefined && { amount }), ...(reason !== undefined && { reason }) };
      return happened(psp, openDispute(psp, charge.id, opts, now()), reply);
    });
    app.post("/_sandbox/psps/:psp/disputes/:id/close", async (req, reply) => {
      const psp = pspOf(reply, (req.params as { psp: string }).psp);
      if (!psp) return reply;
      const body = Close.safeParse(req.body ?? {});
      if (!body.success) return bad(reply, body.error);
      return happened(
        psp,
        closeDispute(psp, (req.params as { id: string }).id, body.data.outcome, now()),
        reply,
      );
    });
    done();
  };
  return routes;
}
