// The floor of a flood: a bare node:http server answering every request with the very bytes the
// gateway gives a throttled client (status, headers, body, captured from the gateway before the
// run): the 302 to the captcha page for a browser's page load (Accept: text/html), the 429 JSON
// for anything else. Nothing is counted or looked up.
import http from 'node:http';
import { childInput, serve } from './child.js';

export interface CannedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const { json, browser } = childInput<{ json: CannedAnswer; browser: CannedAnswer }>();

function send(res: http.ServerResponse, answer: CannedAnswer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

serve(
  http.createServer((req, res) => {
    if (req.headers.accept?.includes('text/html') === true) send(res, browser);
    else send(res, json);
  }),
);
