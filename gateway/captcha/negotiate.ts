// Decides whether a captcha GET gets the HTML page or the JSON the storefront expects.

const NOT_LISTED = -1;
// Media types are case-insensitive; this cheap test skips the parse for API clients.
const MENTIONS_HTML = /text\/html/i;

/**
 * True only when Accept lists text/html with q > 0 ahead of application/json: a higher q, or the
 * same q and earlier in the list. JSON is the default (`*\/*`, a missing header, API clients).
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined || !MENTIONS_HTML.test(accept)) return false;
  let htmlQ = NOT_LISTED;
  let jsonQ = NOT_LISTED;
  let htmlFirst = false;
  for (const range of accept.split(',')) {
    const semicolon = range.indexOf(';');
    const type = (semicolon === -1 ? range : range.slice(0, semicolon)).trim().toLowerCase();
    if (type !== 'text/html' && type !== 'application/json') continue;
    const q = semicolon === -1 ? 1 : qValue(range.slice(semicolon + 1));
    if (type === 'text/html') {
      if (htmlQ === NOT_LISTED) {
        htmlQ = q;
        htmlFirst = jsonQ === NOT_LISTED;
      }
    } else if (jsonQ === NOT_LISTED) {
      jsonQ = q;
    }
  }
  if (htmlQ <= 0) return false;
  return htmlQ > jsonQ || (htmlQ === jsonQ && htmlFirst);
}

/** The q parameter of a media range or language range; 1 when absent, 0 when malformed. */
export function qValue(params: string): number {
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const q = Number(param.slice(eq + 1).trim());
    return Number.isFinite(q) && q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}
