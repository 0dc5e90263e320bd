// The LOCAL TEST CAPTCHA PROVIDER, for the demo and integration tests only — never production:
// a checkbox widget script and a siteverify endpoint speaking the reCAPTCHA protocol.
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { sendJson } from '../http/send.js';
import { closeNow, listenLocal, send } from './listen.js';

export interface TestProviderOptions {
  /** The secret siteverify callers must send; pass a random one per run. */
  readonly secret: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Epoch milliseconds, for `challenge_ts`. */
  readonly now?: () => number;
  /** Told about every well-formed siteverify call (tests check what the gateway sent). */
  readonly onVerify?: (call: SiteverifyCall) => void;
}

/** One siteverify call as the provider saw it; the secret itself is never passed on. */
export interface SiteverifyCall {
  readonly response: string;
  readonly remoteip: string;
  readonly success: boolean;
  readonly errorCodes: readonly string[];
}

export interface TestProvider {
  /** http://host:port/ */
  readonly url: string;
  /** The widget script: the config's `captcha.script_url`. */
  readonly scriptUrl: string;
  /** The siteverify endpoint: the config's `captcha.verify_url`. */
  readonly verifyUrl: string;
  close(): Promise<void>;
}

/** Every response the widget produces starts with this; siteverify accepts nothing else. */
export const TEST_PASS_PREFIX = 'test-pass-';
export const WIDGET_LABEL = 'I am not a robot (test captcha)';

const SCRIPT_PATH = '/widget.js';
const STYLE_PATH = '/widget.css';
const VERIFY_PATH = '/siteverify';
// siteverify bodies are three short fields; anything bigger is not a real caller.
const MAX_BODY_BYTES = 16 * 1024;

// Runs in the browser under the captcha page's strict CSP: no eval, no inline script or style,
// nodes built with createElement. Plain ES2017 so any browser in use runs it. The checkbox is
// `required`, so a browser refuses to submit the form until it is ticked.
const WIDGET_SCRIPT = `// Local TEST captcha widget (captcha-gateway demo). Never use in production.
(function () {
  'use strict';
  var PREFIX = ${JSON.stringify(TEST_PASS_PREFIX)};
  var LABEL = ${JSON.stringify(WIDGET_LABEL)};
  var FIELD = 'g-recaptcha-response';
  var MARK = 'data-test-captcha-rendered';
  var count = 0;
  // Read now: currentScript is only set while this file first runs.
  var self = document.currentScript;
  var origin = self && self.src ? new URL(self.src).origin : '';

  // A stylesheet from our own origin (CSP style-src allows it), never an inline style.
  function addStylesheet() {
    if (!origin || document.querySelector('link[data-test-captcha]')) return;
    var link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = origin + ${JSON.stringify(STYLE_PATH)};
    link.setAttribute('data-test-captcha', '');
    document.head.appendChild(link);
  }

  function token() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return PREFIX + hex;
  }

  function render(host) {
    var form = host.closest('form');
    if (!form || host.getAttribute(MARK) === 'true') return;
    host.setAttribute(MARK, 'true');
    count += 1;
    var box = document.createElement('input');
    box.type = 'checkbox';
    box.id = 'test-captcha-box-' + count;
    box.className = 'test-captcha__box';
    box.required = true;
    var label = document.createElement('label');
    label.htmlFor = box.id;
    label.className = 'test-captcha__label';
    label.textContent = LABEL;
    var hidden = null;

    // The hidden field exists exactly while the box is ticked.
    function sync() {
      if (box.checked && !hidden) {
        hidden = document.createElement('input');
        hidden.type = 'hidden';
        hidden.name = FIELD;
        hidden.value = token();
        host.appendChild(hidden);
      } else if (!box.checked && hidden) {
        host.removeChild(hidden);
        hidden = null;
      }
    }
    box.addEventListener('change', sync);
    // A browser may restore the tick on back/forward without a change event.
    form.addEventListener('submit', sync);
    host.appendChild(box);
    host.appendChild(document.createTextNode(' '));
    host.appendChild(label);
  }

  function renderAll() {
    addStylesheet();
    var hosts = document.querySelectorAll('form .test-captcha');
    for (var i = 0; i < hosts.length; i++) render(hosts[i]);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', renderAll);
  renderAll();
})();
`;

// Looks like a captcha box, so a newcomer recognises it; the script works without it.
const WIDGET_STYLE = `.test-captcha {
  display: flex;
  width: fit-content;
  align-items: center;
  gap: 0.6rem;
  margin: 0.75rem 0;
  padding: 0.9rem 1.1rem;
  border: 1px solid #c8c8c8;
  border-radius: 4px;
  background: #f9f9f9;
  box-shadow: 0 1px 2px rgba(0, 0, 0, 0.08);
  font: 15px/1.4 system-ui, sans-serif;
  color: #222;
}
.test-captcha__box {
  width: 1.5rem;
  height: 1.5rem;
  margin: 0;
  cursor: pointer;
}
.test-captcha__label {
  cursor: pointer;
}
`;

export async function startTestProvider(options: TestProviderOptions): Promise<TestProvider> {
  if (options.secret === '') throw new TypeError('startTestProvider: secret must not be empty');
  const now = options.now ?? Date.now;
  const secretDigest = digest(options.secret);

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://provider.invalid').pathname;
    if (path === SCRIPT_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      return send(res, req, 200, 'text/javascript; charset=utf-8', WIDGET_SCRIPT, {
        'cache-control': 'no-cache',
      });
    }
    if (path === STYLE_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      return send(res, req, 200, 'text/css; charset=utf-8', WIDGET_STYLE, {
        'cache-control': 'no-cache',
      });
    }
    if (path === VERIFY_PATH) {
      if (req.method !== 'POST') return notAllowed(res, 'POST');
      return void readBody(req, res, (body) => answerSiteverify(req, res, body));
    }
    if (path === '/') {
      const text = `Local TEST captcha provider (captcha-gateway demo). Never use in production.\nwidget: ${SCRIPT_PATH}\nsiteverify: POST ${VERIFY_PATH}\n`;
      return send(res, req, 200, 'text/plain; charset=utf-8', text);
    }
    return send(res, req, 404, 'text/plain; charset=utf-8', 'Not found.\n');
  }

  function answerSiteverify(req: IncomingMessage, res: ServerResponse, body: string): void {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // The protocol is form-encoded; anything else is a malformed call, answered as Google does.
    if (type !== '' && type !== 'application/x-www-form-urlencoded') {
      return sendJson(res, 200, { success: false, 'error-codes': ['bad-request'] });
    }
    const params = new URLSearchParams(body);
    const secret = params.get('secret') ?? '';
    const response = params.get('response') ?? '';
    const errorCodes: string[] = [];
    if (secret === '') errorCodes.push('missing-input-secret');
    else if (!timingSafeEqual(digest(secret), secretDigest))
      errorCodes.push('invalid-input-secret');
    if (response === '') errorCodes.push('missing-input-response');
    else if (!response.startsWith(TEST_PASS_PREFIX)) errorCodes.push('invalid-input-response');
    const success = errorCodes.length === 0;
    options.onVerify?.({ response, remoteip: params.get('remoteip') ?? '', success, errorCodes });
    if (!success) return sendJson(res, 200, { success: false, 'error-codes': errorCodes });
    sendJson(res, 200, {
      success: true,
      hostname: 'localhost',
      challenge_ts: new Date(now()).toISOString(),
    });
  }

  const server = http.createServer(handle);
  server.on('clientError', (_error, socket) => socket.destroy());
  const origin = await listenLocal(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url: `${origin}/`,
    scriptUrl: `${origin}${SCRIPT_PATH}`,
    verifyUrl: `${origin}${VERIFY_PATH}`,
    close: () => closeNow(server),
  };
}

/** Reads the body as UTF-8, at most MAX_BODY_BYTES; a larger one is answered 413 here. */
function readBody(req: IncomingMessage, res: ServerResponse, then: (body: string) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) return tooLarge(res);
  const chunks: Buffer[] = [];
  let bytes = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) {
      refused = true;
      tooLarge(res);
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (!refused) then(Buffer.concat(chunks).toString('utf8'));
  });
}

function tooLarge(res: ServerResponse): void {
  // `connection: close` so Node does not keep reading an oversized body to reuse the socket.
  sendJson(res, 413, { success: false, 'error-codes': ['bad-request'] }, { connection: 'close' });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function notAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { success: false, 'error-codes': ['bad-request'] }, { allow });
}
