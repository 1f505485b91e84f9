// Outgoing merchant webhooks in a worker: the dispatcher (PAY_EVT → merchant events and deliveries)
// and the sender (deliveries → merchant endpoints), composed from the Config. Off with
// SWITCHYARD_WEBHOOKS=off (actors/role.ts then does not start it).
import type { Config } from "../../config/env.ts";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import { EventStore } from "../../streams/event-store.ts";
import type { Infra } from "../../streams/infra.ts";
import { WEBHOOKS_FOLLOWER, WebhookDispatcher } from "./dispatcher.ts";
import { MerchantFeedPublisher } from "./merchant-feed.ts";
import { WebhookSender } from "./sender.ts";
import { guardedLookup, resolveWebhookTarget, WebhookUrlRefused } from "./url-resolve.ts";

export type Webhooks = {
  dispatcher: WebhookDispatcher;
  sender: WebhookSender;
  /** The merchant events feed for internal systems (PAY_OUT). */
  feed: MerchantFeedPublisher;
  stop(): Promise<void>;
};

export async function startWebhooks(
  config: Config,
  infra: Infra,
  o: { cardKeys: readonly Buffer[]; metrics: Metrics; log: Logger },
): Promise<Webhooks> {
  const log = o.log.child({ component: "webhooks" });
  // The dispatcher hands the sender the deliveries it leased to it at insert, and wakes it after each
  // batch that stored deliveries it did not hand (held back behind a pending one, or no room).
  const sender: WebhookSender = new WebhookSender({
    sql: infra.db.sql,
    cardKeys: o.cardKeys,
    retryScheduleMs: config.webhooks.retryScheduleMs,
    disableAfterMs: config.webhooks.disableAfterMs,
    timeoutMs: config.webhooks.timeoutMs,
    concurrency: config.webhooks.concurrency,
    pollMs: config.webhooks.pollMs,
    // The endpoint's URL judged again at each send, by the addresses its name has now.
    async checkUrl(url) {
      try {
        await resolveWebhookTarget(url, config.webhookEndpoints);
        return undefined;
      } catch (err) {
        if (err instanceof WebhookUrlRefused) return err.reason;
        throw err;
      }
    },
    lookup: guardedLookup(config.webhookEndpoints),
    metrics: o.metrics,
    log,
  });
  const feed = new MerchantFeedPublisher({
    js: infra.js,
    jsm: infra.jsm,
    topo: infra.topo,
    sql: infra.db.sql,
    metrics: o.metrics,
    log,
  });
  const dispatcher = new WebhookDispatcher({
    js: infra.js,
    jsm: infra.jsm,
    topo: infra.topo,
    sql: infra.db.sql,
    events: new EventStore(infra.js, infra.jsm, infra.topo, o.metrics),
    source: infra.eventTap,
    log,
    onStored: () => sender.stored(),
    handOff: sender,
    onEvents: () => feed.wake(),
    onSetAside: () => o.metrics.followerSetAside.inc({ follower: WEBHOOKS_FOLLOWER }),
  });
  o.metrics.followerSetAside.inc({ follower: WEBHOOKS_FOLLOWER }, 0);
  await feed.start();
  await dispatcher.start();
  sender.start();
  return {
    dispatcher,
    sender,
    feed,
    async stop() {
      await dispatcher.stop();
      await feed.stop();
      await sender.stop();
    },
  };
}
