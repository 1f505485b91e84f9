// Card numbers where none belongs, found in any text: the pure detector both edges use (the gateway
// on every HTTP request, gateway/card-in-text.ts; the worker on every command's bytes off PAY_CMD,
// actors/command-checks.ts), and the mask a dead letter's stored copy gets. Pure.
import { luhnValid } from "./card.ts";

// Digits, with at most one space or dash between two of them ("4242 4242 4242 4242").
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;
// The cheap question first (every string of every request is asked): 13 such digits in a row?
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/;

// A UUID (a merchant's order id, say) is a hex token whose all-digit groups can join into 13–19 digits.
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
// A letter or underscore right against a digit run makes it part of a word: an id, a hash, base64.
const WORD_CHAR = /[A-Za-z_]/;

/**
 * Whether the text holds 13–19 digits that pass Luhn and start with a non-zero digit (no issuer
 * number starts with 0). Separators may glue a PAN to a neighbouring number ("order 12 4242 4242
 * 4242 4242"), so every span of whole separator-delimited groups is tried; an unbroken run of 20+
 * digits is some other number and is left alone. Digits glued to a letter or an underscore, and a
 * UUID, are parts of identifiers: a random hex id (`pay_…`, a hash) holds 13 digits in a row about
 * once in fifty and would otherwise be refused about once in three hundred.
 */
export function containsCardNumber(text: string): boolean {
  if (!THIRTEEN_DIGITS.test(text)) return false;
  const scanned = text.replace(UUID, " ");
  for (const m of scanned.matchAll(DIGIT_RUN)) {
    const before = scanned[m.index - 1];
    const after = scanned[m.index + m[0].length];
    const groups = m[0].split(/[ -]/);
    // The group touching a letter belongs to that word; the groups past a separator are numbers.
    if (before && WORD_CHAR.test(before)) groups.shift();
    if (after && WORD_CHAR.test(after)) groups.pop();
    for (let i = 0; i < groups.length; i++) {
      let digits = "";
      for (let j = i; j < groups.length && digits.length < 19; j++) {
        digits += groups[j]!;
        if (digits.length >= 13 && digits.length <= 19 && digits[0] !== "0" && luhnValid(digits)) return true;
      }
    }
  }
  return false;
}

/**
 * The text with every digit run that holds a card number (as containsCardNumber finds one) masked:
 * each of its digits but the run's last four becomes `*`, separators and length kept ("4242 4242
 * 4242 4242" → "**** **** **** 4242"), so a dead letter's stored copy says where the number was and
 * which card (last4, as the platform keeps anyway) without holding it. Everything else is unchanged.
 */
export function maskCardNumbers(text: string): string {
  if (!THIRTEEN_DIGITS.test(text)) return text;
  return text.replace(DIGIT_RUN, (run) => {
    if (!containsCardNumber(` ${run} `)) return run;
    let keep = 4;
    let out = "";
    for (let i = run.length - 1; i >= 0; i--) {
      const c = run[i]!;
      if (c >= "0" && c <= "9") out = (keep-- > 0 ? c : "*") + out;
      else out = c + out;
    }
    return out;
  });
}

/**
 * maskCardNumbers over what a text says rather than how it is spelt: JSON is read and written back
 * first, so a number hidden behind escapes (`\u0034242…`) is masked too. Other text is masked as is.
 */
export function redactCardNumbers(text: string): string {
  let plain = text;
  if (text.startsWith("{") || text.startsWith("[") || text.startsWith('"'))
    try {
      plain = JSON.stringify(JSON.parse(text));
    } catch {
      // Not JSON after all: masked as written.
    }
  return maskCardNumbers(plain);
}
