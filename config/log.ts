// The pino logger every role uses. JSON lines; card data and keys are redacted by path as a last
// line of defence (the code never logs them on purpose).
import type { Logger } from "pino";
import { terminalAwarePino as pino } from "./log-format.ts";

export type { Logger };

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { ...base },
    redact: {
      paths: [
        "*.number",
        "*.cvc",
        "*.card.number",
        "*.card.cvc",
        "authorization",
        "*.authorization",
        "*.headers.authorization",
        "sealedCard",
        "*.sealedCard",
      ],
      censor: "[redacted]",
    },
  });
}
