// Names an upstream fault and holds the public answers for it. The private cause (address, error
// code, stack) never reaches the client; callers hear the kind through `onUpstreamError`.
import type { ServerResponse } from 'node:http';
import { sendJson } from '../http/send.js';
import { CONNECT_TIMEOUT } from './upstream-agent.js';

/**
 * `unreachable`: no connection (refused, no route, DNS, connect_timeout). `timeout`: no response
 * head within upstream.timeout. `reset`: the connection broke before or while the response came.
 */
export type UpstreamFault = 'unreachable' | 'timeout' | 'reset';

const UNREACHABLE: ReadonlySet<string> = new Set([
  CONNECT_TIMEOUT,
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function classifyFault(error: Error): UpstreamFault {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && UNREACHABLE.has(code) ? 'unreachable' : 'reset';
}

/** The cause logged for a fault with no error of its own: no response head within the timeout. */
export const RESPONSE_TIMEOUT = 'UPSTREAM_RESPONSE_TIMEOUT';
/** The cause logged when the upstream's status line or a header is one Node will not pass on. */
export const INVALID_RESPONSE = 'UPSTREAM_INVALID_RESPONSE';

/**
 * What the log says caused a fault: the error's code (ECONNREFUSED, ECONNRESET, ETIMEDOUT,
 * UPSTREAM_CONNECT_TIMEOUT, a TLS code such as ERR_TLS_CERT_ALTNAME_INVALID), never its message,
 * which may carry an address.
 */
export function causeOf(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code !== '' ? code : 'UPSTREAM_ERROR';
}

const BAD_GATEWAY = { detail: 'The service is temporarily unavailable. Please try again shortly.' };
const GATEWAY_TIMEOUT = {
  detail: 'The service took too long to answer. Please try again shortly.',
};
/** 504 for `timeout`, 502 otherwise; once the head went out, sendJson destroys the response. */
export function answerFault(
  res: ServerResponse,
  fault: UpstreamFault,
  requestId: string | undefined,
  draining: boolean,
): void {
  const headers: Record<string, string> = {};
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  if (draining) headers.connection = 'close';
  if (fault === 'timeout') sendJson(res, 504, GATEWAY_TIMEOUT, headers);
  else sendJson(res, 502, BAD_GATEWAY, headers);
}
