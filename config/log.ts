// The pino logger every role uses. JSON lines; card data and keys are redacted by path as a last
// line of defence (the code never logs them on purpose).
import { pino as createPino, type DestinationStream, type Logger } from "pino";
import { logDestination } from "./log-format.ts";

export type { Logger };

/** `destination`: where lines go; by default stdout (formatted for reading on a terminal). */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  destination: DestinationStream | undefined = logDestination(),
): Logger {
  return createPino(
    {
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
    },
    destination,
  );
}
