// Picks the captcha form's language from Accept-Language among the configured ones.
import { qValue } from './negotiate.js';

// A browser sends a handful of ranges; more than this is noise or an attack, not a preference.
const MAX_RANGES = 32;

/**
 * Returns a function mapping an Accept-Language header to one of `available` (lower-case tags
 * such as `tr`, `en`, `en-us`): the highest-q range that matches exactly or by its primary subtag
 * (`en-US` → `en`), else `fallback`.
 */
export function createLanguagePicker(
  available: readonly string[],
  fallback: string,
): (acceptLanguage: string | undefined) => string {
  const known = new Set(available.map((tag) => tag.toLowerCase()));
  const match = (range: string): string | undefined => {
    if (known.has(range)) return range;
    const dash = range.indexOf('-');
    if (dash > 0) {
      const primary = range.slice(0, dash);
      if (known.has(primary)) return primary;
    }
    return undefined;
  };

  return (header) => {
    if (header === undefined || header === '') return fallback;
    let best = fallback;
    let bestQ = 0;
    let count = 0;
    for (const part of header.split(',')) {
      if (++count > MAX_RANGES) break;
      const semicolon = part.indexOf(';');
      const range = (semicolon === -1 ? part : part.slice(0, semicolon)).trim().toLowerCase();
      const q = semicolon === -1 ? 1 : qValue(part.slice(semicolon + 1));
      // Strictly greater: among equal q the earlier range wins, as the header orders them.
      if (q <= bestQ) continue;
      const tag = match(range);
      if (tag === undefined) continue;
      best = tag;
      bestQ = q;
      if (q === 1) break;
    }
    return best;
  };
}
