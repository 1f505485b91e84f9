// Where a card was issued, seen from the merchant's home country: the region fee schedules and
// routing rules are written against. Pure.
import type { Region } from "./schemas.ts";

/** The European Economic Area: the EU 27 plus Iceland, Liechtenstein and Norway (ISO 3166 alpha-2). */
export const EEA: ReadonlySet<string> = new Set([
  "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
  "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
  "IS", "LI", "NO",
]); // prettier-ignore

/** Domestic if the card's country is the home country, intra_eea if both are in the EEA, else international. An unknown BIN country is international. */
export function regionOf(binCountry: string | null, homeCountry: string): Region {
  if (binCountry === null) return "international";
  if (binCountry === homeCountry) return "domestic";
  if (EEA.has(binCountry) && EEA.has(homeCountry)) return "intra_eea";
  return "international";
}
