// The demo (`npm run demo`): its shop, its local test captcha provider, and throttle → captcha →
// pass through the real gateway wired exactly as the demo wires it.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runInNewContext } from 'node:vm';
import { startDemoShop, type DemoShop } from '../../gateway/demo/shop.js';
import { DemoConfigError, startDemo, type RunningDemo } from '../../gateway/demo/start.js';
import {
  startTestProvider,
  WIDGET_LABEL,
  type SiteverifyCall,
  type TestProvider,
} from '../../gateway/demo/test-provider.js';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const FORM = 'application/x-www-form-urlencoded';

describe('demo: the local test captcha provider', () => {
  const secret = 'provider-test-secret';
  const calls: SiteverifyCall[] = [];
  let provider: TestProvider;

  before(async () => {
    provider = await startTestProvider({
      secret,
      now: () => Date.UTC(2030, 0, 2, 3, 4, 5),
      onVerify: (call) => calls.push(call),
    });
  });
  after(() => provider.close());
  beforeEach(() => {
    calls.length = 0;
  });

  async function siteverify(fields: Record<string, string>): Promise<Record<string, unknown>> {
    const res = await fetch(provider.verifyUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    return (await res.json()) as Record<string, unknown>;
  }

  it('binds loopback on a free port and names its script and siteverify URLs', () => {
    expect(provider.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(provider.scriptUrl).to.equal(`${provider.url}widget.js`);
    expect(provider.verifyUrl).to.equal(`${provider.url}siteverify`);
  });

  it('accepts a test-pass- response with the right secret, as reCAPTCHA siteverify answers', async () => {
    const answer = await siteverify({ secret, response: 'test-pass-abc', remoteip: '192.0.2.7' });
    expect(answer).to.deep.equal({
      success: true,
      hostname: 'localhost',
      challenge_ts: '2030-01-02T03:04:05.000Z',
    });
    expect(calls).to.deep.equal([
      { response: 'test-pass-abc', remoteip: '192.0.2.7', success: true, errorCodes: [] },
    ]);
  });

  it('refuses a wrong secret with invalid-input-secret', async () => {
    const answer = await siteverify({ secret: 'guess', response: 'test-pass-abc' });
    expect(answer).to.deep.equal({ success: false, 'error-codes': ['invalid-input-secret'] });
  });

  it('refuses a response that the widget did not make with invalid-input-response', async () => {
    const answer = await siteverify({ secret, response: 'robot' });
    expect(answer).to.deep.equal({ success: false, 'error-codes': ['invalid-input-response'] });
  });

  it('refuses a missing or empty response with missing-input-response', async () => {
    expect(await siteverify({ secret })).to.deep.equal({
      success: false,
      'error-codes': ['missing-input-response'],
    });
    expect(await siteverify({ secret, response: '' })).to.deep.equal({
      success: false,
      'error-codes': ['missing-input-response'],
    });
  });

  it('refuses a missing secret with missing-input-secret', async () => {
    const answer = await siteverify({ response: 'test-pass-abc' });
    expect(answer).to.deep.equal({ success: false, 'error-codes': ['missing-input-secret'] });
  });

  it('answers bad-request to a body that is not form-encoded', async () => {
    const res = await fetch(provider.verifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret, response: 'test-pass-abc' }),
    });
    expect(await res.json()).to.deep.equal({ success: false, 'error-codes': ['bad-request'] });
  });

  it('answers 413 to a body over 16 KiB, declared or streamed, and keeps serving', async () => {
    const big = `secret=${secret}&response=test-pass-${'a'.repeat(17 * 1024)}`;
    const declared = await fetch(provider.verifyUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: big,
    });
    expect(declared.status).to.equal(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(provider.verifyUrl, {
        method: 'POST',
        headers: { 'content-type': FORM, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // The provider may close the socket before the whole body is written.
      req.on('error', reject);
      req.write(big.slice(0, 8 * 1024));
      req.end(big.slice(8 * 1024));
    });
    expect(streamed).to.equal(413);
    expect(await siteverify({ secret, response: 'test-pass-ok' })).to.include({ success: true });
  });

  it('answers 405 to a GET on siteverify and 404 to an unknown path', async () => {
    const get = await fetch(provider.verifyUrl);
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
    expect((await fetch(`${provider.url}nope`)).status).to.equal(404);
  });

  it('serves the widget script as JavaScript, free of eval and inline styles', async () => {
    const res = await fetch(provider.scriptUrl);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    const script = await res.text();
    expect(script).to.include(WIDGET_LABEL);
    expect(script).to.not.match(/\beval\b|new Function|innerHTML|style=|setAttribute\('style'/);
  });

  it('serves the widget stylesheet as CSS from the same origin (CSP style-src allows it)', async () => {
    const res = await fetch(`${provider.url}widget.css`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/css; charset=utf-8');
    expect(await res.text()).to.include('.test-captcha {');
  });

  it('widget: ticking the box adds a test-pass- response to the form, unticking removes it', async () => {
    const script = await (await fetch(provider.scriptUrl)).text();
    const dom = fakeDom();
    runInNewContext(script, dom.globals);

    const host = dom.host;
    const box = host.children.find((c) => c.tagName === 'INPUT' && c.type === 'checkbox');
    const label = host.children.find((c) => c.tagName === 'LABEL');
    expect(box, 'checkbox').to.not.equal(undefined);
    expect(box!.required).to.equal(true);
    expect(label!.textContent).to.equal(WIDGET_LABEL);
    expect(label!.htmlFor).to.equal(box!.id);
    const responses = () => host.children.filter((c) => c.name === 'g-recaptcha-response');
    expect(responses()).to.have.length(0);

    box!.checked = true;
    box!.fire('change');
    expect(responses()).to.have.length(1);
    expect(responses()[0]!.type).to.equal('hidden');
    expect(responses()[0]!.value).to.match(/^test-pass-[0-9a-f]{32}$/);

    box!.checked = false;
    box!.fire('change');
    expect(responses()).to.have.length(0);

    // Loaded twice (a second script tag), it still renders one widget.
    runInNewContext(script, dom.globals);
    expect(host.children.filter((c) => c.type === 'checkbox')).to.have.length(1);
  });
});

describe('demo: the shop', () => {
  let shop: DemoShop;

  before(async () => {
    shop = await startDemoShop(0);
  });
  after(() => shop.close());

  it('serves a small, accessible home page that links to products and sign-in', async () => {
    const res = await fetch(shop.url, { headers: { accept: HTML } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const body = await res.text();
    expect(body).to.match(/^<!doctype html>\n<html lang="en">/);
    // Titled by the shop's name once; other pages are "Page · Demo shop".
    expect(body).to.include('<title>Demo shop</title>');
    expect(body).to.include('href="/products/1/"');
    expect(body).to.include('href="/users/login/"');
    expect(body).to.not.match(/(src|href)="(https?:)?\/\//);
  });

  it('titles a product page "Product · Demo shop"', async () => {
    const body = await (await fetch(`${shop.url}products/3/`)).text();
    expect(body).to.include('<title>Canvas tote · Demo shop</title>');
  });

  it('serves its logo as SVG and a help page, for the captcha page to show and link to', async () => {
    const logo = await fetch(`${shop.url}static/logo.svg`);
    expect(logo.status).to.equal(200);
    expect(logo.headers.get('content-type')).to.equal('image/svg+xml');
    expect(await logo.text()).to.match(/^<svg [^>]*>[\s\S]*Demo shop[\s\S]*<\/svg>\n$/);
    const help = await fetch(`${shop.url}help/`);
    expect(help.status).to.equal(200);
    expect(await help.text()).to.include('<title>Help · Demo shop</title>');
  });

  it('shows a visit counter that goes up on every reload', async () => {
    const first = await (await fetch(`${shop.url}products/2/`)).text();
    const second = await (await fetch(`${shop.url}products/2/`)).text();
    const count = (page: string) => Number(/visit #(\d+)/.exec(page)?.[1]);
    expect(first).to.include('Wool scarf');
    expect(count(second)).to.equal(count(first) + 1);
  });

  it('answers 404 for a product that does not exist', async () => {
    expect((await fetch(`${shop.url}products/999/`)).status).to.equal(404);
  });

  it('shows a sign-in form that posts back, and greets the user with the name escaped', async () => {
    const form = await (await fetch(`${shop.url}users/login/`)).text();
    expect(form).to.include('<form method="post" action="/users/login/">');
    expect(form).to.include('<label for="username">');
    const res = await fetch(`${shop.url}users/login/`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: 'username=%3Cb%3Eada&password=x',
    });
    expect(res.status).to.equal(200);
    const body = await res.text();
    expect(body).to.include('Welcome back, <strong>&lt;b&gt;ada</strong>');
    expect(body).to.not.include('password');
  });

  it('serves the products as JSON', async () => {
    const res = await fetch(`${shop.url}api/products/`);
    expect(res.headers.get('content-type')).to.equal('application/json');
    const body = (await res.json()) as { count: number; results: { id: number; url: string }[] };
    expect(body.count).to.equal(body.results.length).and.to.be.greaterThan(0);
    expect(body.results[0]).to.include({ id: 1, url: '/products/1/' });
  });
});

describe('demo: throttle → captcha → pass through the real gateway', () => {
  const calls: SiteverifyCall[] = [];
  let demo: RunningDemo;

  before(async () => {
    demo = await startDemo({
      port: 0,
      adminPort: 0,
      logLevel: 'silent',
      onVerify: (call) => calls.push(call),
    });
  });
  after(() => demo.stop());

  const navigate = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, demo.url), {
      redirect: 'manual',
      ...init,
      headers: { accept: HTML, 'accept-language': 'en', ...init.headers },
    });

  it('validates its config through the real schema: provider test, limit 5, loopback only', () => {
    const { config } = demo;
    expect(config.captcha.provider).to.equal('test');
    expect(config.captcha.site_key).to.equal('demositekey');
    expect(config.captcha.script_url).to.equal(demo.provider.scriptUrl);
    expect(config.captcha.verify_url).to.equal(demo.provider.verifyUrl);
    expect(config.throttle).to.include({ limit: 5, window: 60_000, block: 120_000 });
    expect(config.upstream.url).to.equal(demo.shopUrl);
    expect(config.listen.host).to.equal('127.0.0.1');
    expect(config.admin.host).to.equal('127.0.0.1');
    expect(config.csrf.secret).to.match(/^[0-9a-f]{64}$/);
  });

  it('proxies 5 navigations, sends the 6th to the captcha, and lets the visitor back after passing it', async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await navigate('/products/1/');
      expect(res.status, `navigation ${i}`).to.equal(200);
      expect(await res.text()).to.include('Served by the demo shop');
    }
    const sixth = await navigate('/products/1/');
    expect(sixth.status).to.equal(302);
    const location = sixth.headers.get('location')!;
    expect(location).to.equal('/users/captcha/?next=%2Fproducts%2F1%2F');

    const pageRes = await navigate(location);
    expect(pageRes.status).to.equal(200);
    expect(pageRes.headers.get('content-type')).to.match(/^text\/html/);
    const csp = pageRes.headers.get('content-security-policy') ?? '';
    expect(csp).to.match(new RegExp(`script-src [^;]*${new URL(demo.provider.url).origin}`));
    const page = await pageRes.text();
    expect(page).to.include('<div class="test-captcha" data-sitekey="demositekey"');
    expect(page).to.include(`src="${demo.provider.scriptUrl}"`);
    const token = /name='csrfmiddlewaretoken' value='(\w+)'/.exec(page)?.[1];
    const next = /name='next' value='([^']*)'/.exec(page)?.[1];
    expect(token).to.be.a('string');
    expect(next).to.equal('/products/1/');
    const cookie = `csrftoken=${token}`;
    expect(pageRes.headers.get('set-cookie')).to.include(cookie);

    // The browser then loads the widget from the origin the CSP allows.
    const script = await fetch(demo.provider.scriptUrl);
    expect(script.headers.get('content-type')).to.match(/^text\/javascript/);

    // A made-up response is refused and the form is shown again; the visitor stays throttled.
    const refused = await navigate(location, {
      method: 'POST',
      headers: { 'content-type': FORM, cookie },
      body: new URLSearchParams({
        csrfmiddlewaretoken: token!,
        'g-recaptcha-response': 'robot',
        next: next!,
      }).toString(),
    });
    expect(refused.status).to.equal(400);
    expect(await refused.text()).to.include('role="alert"');
    expect((await navigate('/products/1/')).status).to.equal(302);

    const passed = await navigate(location, {
      method: 'POST',
      headers: { 'content-type': FORM, cookie },
      body: new URLSearchParams({
        csrfmiddlewaretoken: token!,
        'g-recaptcha-response': 'test-pass-abc',
        next: next!,
      }).toString(),
    });
    expect(passed.status).to.equal(302);
    expect(passed.headers.get('location')).to.equal('/products/1/');
    expect(calls.map((c) => [c.response, c.remoteip, c.success])).to.deep.equal([
      ['robot', '127.0.0.1', false],
      ['test-pass-abc', '127.0.0.1', true],
    ]);

    const back = await navigate('/products/1/');
    expect(back.status).to.equal(200);
    expect(await back.text()).to.include('Served by the demo shop');
  });

  it('never counts the favicon a browser fetches on its own', async () => {
    const res = await fetch(new URL('/favicon.ico', demo.url));
    expect(res.status).to.equal(204);
  });
});

describe('demo: starting and stopping', () => {
  // A failed assertion must not leave a demo process behind.
  afterEach(() => {
    for (const child of spawned.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('refuses a DEMO_PORT that is not a port, naming the config key', async () => {
    try {
      await startDemo({ port: 'eighty', adminPort: 0, logLevel: 'silent' });
      expect.fail('startDemo should have refused the port');
    } catch (error) {
      expect(error).to.be.instanceOf(DemoConfigError);
      expect((error as DemoConfigError).problems.join('\n')).to.match(/^listen\.port: "eighty"/);
    }
  });

  it('npm run demo prints one block with the URL, serves it, and exits 0 on SIGINT', async () => {
    const child = spawnDemo({ DEMO_PORT: '0', DEMO_ADMIN_PORT: '0' });
    const url = await child.waitFor(/Open\s+(http:\/\/127\.0\.0\.1:\d+\/)/);
    expect(child.stdout()).to.include('Ctrl-C');
    expect(child.stdout()).to.match(/Reload it more than 5 times within a minute: the 6th/);
    const res = await fetch(url, { headers: { accept: HTML } });
    expect(res.status).to.equal(200);
    expect(await res.text()).to.include('Demo shop');
    expect(child.stdout()).to.include('"event":"test_captcha_provider"');
    child.process.kill('SIGINT');
    expect(await child.exitCode).to.equal(0);
  });

  it('npm run demo exits 1 and suggests DEMO_PORT=8081 when its port is taken', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const child = spawnDemo({ DEMO_PORT: String(taken), DEMO_ADMIN_PORT: '0' });
      expect(await child.exitCode).to.equal(1);
      expect(child.stderr()).to.include(`port ${taken} on 127.0.0.1 is already in use`);
      expect(child.stderr()).to.include('DEMO_PORT=8081 npm run demo');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

const spawned: ChildProcess[] = [];

/** Runs gateway/demo/main.ts as `npm run demo` would, from source. */
function spawnDemo(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/demo/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exitCode = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => resolve(code)),
  );
  return {
    process: child,
    exitCode,
    stdout: () => out,
    stderr: () => err,
    /** Resolves with the first capture group once stdout matches `pattern`. */
    waitFor(pattern: RegExp): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (match) {
            child.stdout.off('data', check);
            resolve(match[1] ?? match[0]);
          }
        };
        child.stdout.on('data', check);
        void exitCode.then(() => reject(new Error(`demo exited before printing:\n${out}\n${err}`)));
        check();
      });
    },
  };
}

interface FakeNode {
  tagName: string;
  type: string;
  id: string;
  name: string;
  value: string;
  className: string;
  htmlFor: string;
  textContent: string;
  checked: boolean;
  required: boolean;
  children: FakeNode[];
  appendChild(child: FakeNode): FakeNode;
  removeChild(child: FakeNode): FakeNode;
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  addEventListener(type: string, listener: () => void): void;
  closest(selector: string): FakeNode | null;
  fire(type: string): void;
}

/** Just enough DOM for the widget script: one form holding one `.test-captcha` element. */
function fakeDom() {
  const node = (tagName: string, parent: FakeNode | null = null): FakeNode => {
    const attributes = new Map<string, string>();
    const listeners = new Map<string, (() => void)[]>();
    const self: FakeNode = {
      tagName: tagName.toUpperCase(),
      type: '',
      id: '',
      name: '',
      value: '',
      className: '',
      htmlFor: '',
      textContent: '',
      checked: false,
      required: false,
      children: [],
      appendChild(child) {
        self.children.push(child);
        return child;
      },
      removeChild(child) {
        const at = self.children.indexOf(child);
        if (at === -1) throw new Error('not a child');
        self.children.splice(at, 1);
        return child;
      },
      setAttribute: (name, value) => void attributes.set(name, value),
      getAttribute: (name) => attributes.get(name) ?? null,
      addEventListener(type, listener) {
        listeners.set(type, [...(listeners.get(type) ?? []), listener]);
      },
      closest: (selector) => (selector === 'form' ? parent : null),
      fire: (type) => listeners.get(type)?.forEach((listener) => listener()),
    };
    return self;
  };
  const form = node('form');
  const host = node('div', form);
  host.className = 'test-captcha';
  form.appendChild(host);
  const document = {
    readyState: 'complete',
    createElement: (tag: string) => node(tag),
    createTextNode: (text: string) => ({ ...node('#text'), textContent: text }),
    querySelectorAll: (selector: string) => (selector === 'form .test-captcha' ? [host] : []),
    addEventListener: () => undefined,
  };
  const window = { crypto: globalThis.crypto };
  return { host, form, globals: { window, document } };
}
