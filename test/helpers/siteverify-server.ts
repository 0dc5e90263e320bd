// A real local HTTP server speaking the reCAPTCHA siteverify protocol, for tests that need a
// captcha provider: it records every call and answers as the test tells it.
//
//   const siteverify = await startSiteverify();
//   // config: captcha.verify_url = siteverify.url
//   siteverify.answer(() => ({ status: 503 }));            // an outage
//   siteverify.answer(() => ({ hang: true }));             // never answers (timeouts)
//   siteverify.answer(() => ({ raw: 'not json' }));        // a broken provider
//   siteverify.answer((call) => ({ body: { success: call.response === 'ok' } }));
//   siteverify.answer();                                   // back to the default below
//   expect(siteverify.calls[0]).to.deep.equal({ secret, response, remoteip });
//   await siteverify.close();
//
// Default answer: a response starting with "pass" succeeds (hostname "shop.example", score 0.9);
// an empty one fails with "missing-input-response"; anything else with "invalid-input-response".
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request siteverify received: its form fields ('' when absent). */
export interface SiteverifyCall {
  readonly secret: string;
  readonly response: string;
  readonly remoteip: string;
}

/** What to answer: `body` is sent as JSON, `raw` as is; `hang` never answers. Status: 200. */
export interface SiteverifyAnswer {
  readonly status?: number;
  readonly body?: unknown;
  readonly raw?: string;
  readonly hang?: boolean;
}

export type SiteverifyResponder = (call: SiteverifyCall) => SiteverifyAnswer;

export interface SiteverifyServer {
  /** The siteverify URL, e.g. http://127.0.0.1:PORT/siteverify (any path is answered). */
  readonly url: string;
  /** Every call so far, oldest first. */
  readonly calls: SiteverifyCall[];
  /** Replaces how calls are answered; without an argument, restores the default. */
  answer(responder?: SiteverifyResponder): void;
  /** Stops the server, cutting hanging requests and idle connections. */
  close(): Promise<void>;
}

export const PASSING_HOSTNAME = 'shop.example';
export const PASSING_SCORE = 0.9;

export const defaultResponder: SiteverifyResponder = ({ response }) => {
  if (response.startsWith('pass')) {
    return {
      body: {
        success: true,
        challenge_ts: new Date().toISOString(),
        hostname: PASSING_HOSTNAME,
        score: PASSING_SCORE,
      },
    };
  }
  const code = response === '' ? 'missing-input-response' : 'invalid-input-response';
  return { body: { success: false, 'error-codes': [code] } };
};

export async function startSiteverify(): Promise<SiteverifyServer> {
  const calls: SiteverifyCall[] = [];
  let responder = defaultResponder;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, 'error-codes': ['bad-request'] }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const call: SiteverifyCall = {
      secret: form.get('secret') ?? '',
      response: form.get('response') ?? '',
      remoteip: form.get('remoteip') ?? '',
    };
    calls.push(call);
    const answer = responder(call);
    if (answer.hang) return;
    const payload = answer.raw ?? JSON.stringify(answer.body ?? {});
    res.writeHead(answer.status ?? 200, {
      'content-type': answer.raw === undefined ? 'application/json' : 'text/plain',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    calls,
    answer(next) {
      responder = next ?? defaultResponder;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
