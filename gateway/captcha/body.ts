// Reads a captcha POST body (form, multipart or JSON) into plain fields, within `captcha.max_body`.
import type { IncomingMessage } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';

export type BodyKind = 'form' | 'multipart' | 'json';

export type BodyRead =
  | { readonly kind: 'fields'; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'malformed' };

const KINDS: Readonly<Record<string, BodyKind>> = {
  'application/x-www-form-urlencoded': 'form',
  'multipart/form-data': 'multipart',
  'application/json': 'json',
};

/** The body kind a Content-Type names, undefined for any other type (415). */
export function bodyKind(contentType: string | undefined): BodyKind | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return Object.hasOwn(KINDS, type.toLowerCase()) ? KINDS[type.toLowerCase()] : undefined;
}

/** The Content-Length in bytes, undefined when absent (chunked). Node has validated its syntax. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  return value === undefined ? undefined : Number(value);
}

export type BodyReader = (ctx: Context, kind: BodyKind) => Promise<BodyRead>;

export function createBodyReader(maxBytes: number): BodyReader {
  // @koa/bodyparser (co-body) counts bytes while reading and stops at the limit; it refuses a
  // declared Content-Length over the limit before reading anything.
  const parse = bodyParser({
    enableTypes: ['json', 'form'],
    formLimit: maxBytes,
    jsonLimit: maxBytes,
    encoding: 'utf-8',
  });

  return async (ctx, kind) => {
    if (kind === 'multipart') return readMultipart(ctx, maxBytes);
    try {
      await parse(ctx, async () => {});
    } catch (error) {
      return parserFailure(error);
    }
    return asFields(ctx.request.body);
  };
}

function parserFailure(error: unknown): BodyRead {
  const status = (error as { status?: unknown }).status;
  if (status === 413) return { kind: 'too_large' };
  // 415: a Content-Encoding or charset the parser cannot read.
  if (status === 415) return { kind: 'unsupported' };
  // 400: bad JSON, a length that does not match, a client that went away mid-body.
  if (status === 400) return { kind: 'malformed' };
  throw error;
}

function asFields(body: unknown): BodyRead {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { kind: 'malformed' };
  return { kind: 'fields', fields: body as Record<string, unknown> };
}

async function readMultipart(ctx: Context, maxBytes: number): Promise<BodyRead> {
  const encoding = ctx.get('content-encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') return { kind: 'unsupported' };
  const raw = await readLimited(ctx.req, maxBytes);
  if (typeof raw === 'string')
    return raw === 'too_large' ? { kind: 'too_large' } : { kind: 'malformed' };
  let form: FormData;
  try {
    // Node's own multipart parser (undici); the raw bytes are already within the limit.
    form = await new Response(raw, {
      headers: { 'content-type': ctx.get('content-type') },
    }).formData();
  } catch {
    return { kind: 'malformed' };
  }
  // Same shape as the form parser gives: a repeated name becomes an array (then refused).
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of form) {
    const seen = fields[name];
    if (seen === undefined) fields[name] = value;
    else fields[name] = Array.isArray(seen) ? [...(seen as unknown[]), value] : [seen, value];
  }
  return { kind: 'fields', fields };
}

/** The whole body, or why not: over `maxBytes` (counted as it arrives), or the client went away. */
function readLimited(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Buffer | 'too_large' | 'aborted'): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop reading; the 413 goes out with Connection: close, so the rest is never read.
        req.pause();
        finish('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(Buffer.concat(chunks, size));
    const onAbort = (): void => finish('aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}
