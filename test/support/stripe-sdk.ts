// The official Stripe SDK pointed at a test platform with only its host, port and protocol options,
// as a merchant switching to Switchyard would configure it.
import Stripe from "stripe";

export function sdkFor(url: string, key: string): Stripe {
  const u = new URL(url);
  return new Stripe(key, { host: u.hostname, port: Number(u.port), protocol: "http" });
}
