// Finds the valid clearance in a request's Cookie header. A forged, expired or malformed value is
// no clearance: the request is counted as if it carried none.
import { cookieValues } from './cookie.js';
import type { Clearance, ClearanceTokens } from './tokens.js';

export type ClearanceReader = (cookieHeader: string | undefined) => Clearance | undefined;

const NONE: ClearanceReader = () => undefined;

/** `tokens` undefined (clearance off) reads nothing, at no cost per request. */
export function createClearanceReader(
  tokens: ClearanceTokens | undefined,
  cookieName: string,
): ClearanceReader {
  if (tokens === undefined) return NONE;
  return (header) => {
    for (const value of cookieValues(header, cookieName)) {
      const clearance = tokens.check(value);
      if (clearance !== undefined) return clearance;
    }
    return undefined;
  };
}
