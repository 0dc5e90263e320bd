// The demo's upstream: a tiny shop on plain node:http whose pages show a visit counter, so every
// reload the gateway lets through is visibly served by the shop. Demo only.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenLocal, send } from './listen.js';

export interface DemoShop {
  /** http://host:port/ with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

interface Product {
  readonly id: number;
  readonly name: string;
  readonly priceTry: number;
  readonly blurb: string;
}

const PRODUCTS: readonly Product[] = [
  { id: 1, name: 'Linen shirt', priceTry: 749.9, blurb: 'Light, breathable, for long summers.' },
  { id: 2, name: 'Wool scarf', priceTry: 389.5, blurb: 'Warm enough for a Bosphorus winter.' },
  { id: 3, name: 'Canvas tote', priceTry: 199, blurb: 'Carries a week of groceries.' },
  { id: 4, name: 'Leather belt', priceTry: 459, blurb: 'Full-grain, made to last.' },
];

/** The shop's name: its pages' titles and header, and the captcha page's `shop_name`. */
export const SHOP_NAME = 'Demo shop';
/** The shop's logo, served under /static/ (exempt from throttling, so the captcha page shows it). */
export const LOGO_PATH = '/static/logo.svg';
/** Where a shopper asks for help; the demo exempts it, so a throttled shopper still reaches it. */
export const HELP_PATH = '/help/';

// A wordmark: the logo stands for the shop's name on the captcha page (its alt text is the name).
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="176" height="40" viewBox="0 0 176 40">
<rect x="2" y="6" width="28" height="28" rx="7" fill="#0f766e"/>
<path d="M10 15h12l-1.5 13h-9z" fill="none" stroke="#fff" stroke-width="2.2" stroke-linejoin="round"/>
<path d="M12.5 15v-2a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="#fff" stroke-width="2.2"/>
<text x="40" y="27" font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="20" font-weight="700" fill="#1d1d1f">${SHOP_NAME}</text>
</svg>
`;

// The login form is read only to greet the user by name; nothing else of it is kept.
const MAX_FORM_BYTES = 16 * 1024;

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}footer{border-top:1px solid #ccc;margin-top:2rem;color:#555;font-size:.9rem}
label{display:block;margin-top:.5rem}`;

export async function startDemoShop(port: number, host = '127.0.0.1'): Promise<DemoShop> {
  // Visits per path since the shop started: a changing number proves the shop served the page.
  const visits = new Map<string, number>();
  const visit = (path: string): number => {
    const count = (visits.get(path) ?? 0) + 1;
    visits.set(path, count);
    return count;
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://shop.invalid').pathname;
    const method = req.method ?? 'GET';
    const product = /^\/products\/(\d{1,6})\/?$/.exec(path);

    if (path === '/favicon.ico') return sendEmpty(res, 204);
    if (path === LOGO_PATH) {
      if (!isRead(method)) return notAllowed(res, 'GET, HEAD', false);
      return send(res, req, 200, 'image/svg+xml', LOGO_SVG);
    }
    if (path === HELP_PATH) {
      if (!isRead(method)) return notAllowed(res, 'GET, HEAD', false);
      return sendHtml(res, req, 200, 'Help', helpPage(), visit(path));
    }
    if (path === '/api/products/' || path === '/api/products') {
      if (!isRead(method)) return notAllowed(res, 'GET, HEAD', true);
      return sendJson(res, req, 200, {
        count: PRODUCTS.length,
        served_at: new Date().toISOString(),
        results: PRODUCTS.map((p) => ({ ...p, url: `/products/${p.id}/` })),
      });
    }
    if (path === '/users/login/') {
      if (method === 'POST') return void readLogin(req, res, visit(path));
      if (!isRead(method)) return notAllowed(res, 'GET, HEAD, POST', false);
      return sendHtml(res, req, 200, 'Sign in', loginForm(), visit(path));
    }
    if (!isRead(method)) return notAllowed(res, 'GET, HEAD', false);
    if (path === '/') return sendHtml(res, req, 200, SHOP_NAME, homePage(), visit(path));
    const found = product && PRODUCTS.find((p) => p.id === Number(product[1]));
    if (found) return sendHtml(res, req, 200, found.name, productPage(found), visit(path));
    return sendHtml(res, req, 404, 'Not found', '<p>There is no such page in this shop.</p>', 0);
  }

  function readLogin(req: IncomingMessage, res: ServerResponse, count: number): void {
    let body = '';
    let tooLarge = false;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      if (tooLarge) return;
      body += chunk;
      if (Buffer.byteLength(body) > MAX_FORM_BYTES) {
        tooLarge = true;
        sendHtml(res, req, 413, 'Too large', '<p>That form was too large.</p>', 0);
      }
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return;
      const username = new URLSearchParams(body).get('username')?.trim() || 'guest';
      // A demo: there are no accounts, every sign-in "works".
      const content = `<p>Welcome back, <strong>${escapeHtml(username)}</strong>. (This demo shop has no real accounts.)</p>
<p><a href="/">Continue shopping</a></p>`;
      sendHtml(res, req, 200, 'Signed in', content, count);
    });
  }

  const server = http.createServer(handle);
  // A stray socket error must not take the demo down.
  server.on('clientError', (_error, socket) => socket.destroy());
  const origin = await listenLocal(server, port, host);
  return { url: `${origin}/`, close: () => closeNow(server) };
}

function homePage(): string {
  const items = PRODUCTS.map(
    (p) => `  <li><a href="/products/${p.id}/">${escapeHtml(p.name)}</a> — ${price(p)}</li>`,
  ).join('\n');
  return `<p>Welcome to the demo shop. Browse a few products:</p>
<ul>
${items}
</ul>
<p><a href="/users/login/">Sign in</a> · <a href="/api/products/">Products as JSON</a></p>`;
}

function productPage(p: Product): string {
  return `<p>${escapeHtml(p.blurb)}</p>
<p>Price: <strong>${price(p)}</strong></p>
<p><a href="/">Back to all products</a></p>`;
}

function loginForm(): string {
  return `<form method="post" action="/users/login/">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <p><button type="submit">Sign in</button></p>
</form>
<p><a href="/">Back to the shop</a></p>`;
}

function helpPage(): string {
  return `<p>Stuck on a check that asks whether you are human? Tick the box and press Continue; if
it keeps coming back, write to the shop and quote the reference shown under the form.</p>
<p><a href="/">Back to the shop</a></p>`;
}

function price(p: Product): string {
  return `${p.priceTry.toFixed(2)} TRY`;
}

function page(title: string, content: string, visitCount: number): string {
  const served = new Date().toISOString();
  const counter = visitCount > 0 ? `visit #${visitCount} of this page, ` : '';
  // "Page · Shop" as shops title their tabs; the home page, titled by the shop, says it once.
  const tabTitle = title === SHOP_NAME ? SHOP_NAME : `${title} · ${SHOP_NAME}`;
  // `data:,` as the icon stops browsers from fetching /favicon.ico, which would count against
  // the demo's small limit and make "the 6th reload" come early.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(tabTitle)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><p><a href="/">${SHOP_NAME}</a></p></header>
<main>
<h1>${escapeHtml(title)}</h1>
${content}
</main>
<footer><p>Served by the demo shop: ${counter}at <time datetime="${served}">${served}</time>.</p></footer>
</body>
</html>
`;
}

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

function sendHtml(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  title: string,
  content: string,
  visitCount: number,
): void {
  send(res, req, status, 'text/html; charset=utf-8', page(title, content, visitCount));
}

function sendJson(res: ServerResponse, req: IncomingMessage, status: number, body: unknown): void {
  send(res, req, status, 'application/json', JSON.stringify(body));
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'cache-control': 'max-age=86400' });
  res.end();
}

function notAllowed(res: ServerResponse, allow: string, json: boolean): void {
  const body = json ? '{"detail":"Method not allowed."}' : 'Method not allowed.\n';
  res.writeHead(405, {
    allow,
    'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
