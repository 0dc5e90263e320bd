// The answer a throttled client gets: browsers are sent to the captcha page,
// everything else gets a 429 whose redirect_url the storefront recognises.
import type { IncomingMessage, ServerResponse } from 'node:http';

const DETAIL = 'Too many requests. Please complete the captcha to continue.';
// The 429 body around its one variable part, the same bytes JSON.stringify gives the object.
const BODY_HEAD = `{"detail":${JSON.stringify(DETAIL)},"redirect_url":`;

/**
 * Answers a throttled request. This is what a flood of bots is answered with, so the header block
 * goes to writeHead whole, as a flat array (no header map, no per-header validation pass).
 */
export function answerThrottled(
  req: IncomingMessage,
  res: ServerResponse,
  redirectPath: string,
  retryAfterS: number,
  requestId: string,
): void {
  const location = `${redirectPath}?next=${encodeURIComponent(req.url ?? '/')}`;
  if (isBrowserNavigation(req)) {
    res.writeHead(302, [
      'x-request-id',
      requestId,
      'location',
      location,
      'cache-control',
      'no-store',
      'content-length',
      '0',
    ]);
    res.end();
    return;
  }
  // The configured path may hold a quote or a non-ASCII letter: escaped, and counted in bytes.
  const body = `${BODY_HEAD}${JSON.stringify(location)}}`;
  res.writeHead(429, [
    'x-request-id',
    requestId,
    'retry-after',
    String(retryAfterS),
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ]);
  res.end(body);
}

/** A GET/HEAD that accepts HTML and is not an XHR: a person's browser loading a page. */
function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (String(req.headers['x-requested-with']).toLowerCase() === 'xmlhttprequest') return false;
  return req.headers.accept?.includes('text/html') === true;
}
