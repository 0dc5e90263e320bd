// The answer a throttled client gets: browsers are sent to the captcha page,
// everything else gets a 429 whose redirect_url the storefront recognises.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './send.js';

const DETAIL = 'Too many requests. Please complete the captcha to continue.';

export function answerThrottled(
  req: IncomingMessage,
  res: ServerResponse,
  redirectPath: string,
  retryAfterS: number,
): void {
  const location = `${redirectPath}?next=${encodeURIComponent(req.url ?? '/')}`;
  if (isBrowserNavigation(req)) {
    res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
    res.end();
    return;
  }
  sendJson(
    res,
    429,
    { detail: DETAIL, redirect_url: location },
    { 'retry-after': String(retryAfterS) },
  );
}

/** A GET/HEAD that accepts HTML and is not an XHR: a person's browser loading a page. */
function isBrowserNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (String(req.headers['x-requested-with']).toLowerCase() === 'xmlhttprequest') return false;
  return req.headers.accept?.includes('text/html') === true;
}
