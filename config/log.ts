// The pino logger every role uses. JSON lines; card data and keys are redacted by path as a last
// line of defence (the code never logs them on purpose). With tracing on (config/tracing.ts), a line
// written inside an active span carries its `traceId` and `spanId` (the names the gateway's request
// lines already use for the trace); with tracing off no mixin is installed, so lines cost nothing more.
import { pino as createPino, type DestinationStream, type Logger } from "pino";
import { logDestination } from "./log-format.ts";
import { activeTraceFields, tracingEnabled } from "./tracing.ts";

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
      // Fields the caller passes win: a request line's own traceId/spanId are the request's span.
      ...(tracingEnabled() && { mixin: activeTraceFields }),
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
