import { expect } from 'chai';
import http from 'node:http';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { rawExchange, statuses } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** GET with the target written exactly as given (Node's client does not normalise paths). */
function rawGet(gw: RunningGateway, target: string, headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, path: target, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hostile input', () => {
  let upstream: Upstream;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    upstream.requests.length = 0;
    gw = await startGateway(`
upstream: { url: "${upstream.url}" }
throttle:
  limit: 3
  exempt: { paths: [/static/] }
  rules:
    - { name: login, path: /users/login/, methods: [POST], limit: 2, window: 60s }
    - { name: search, path: /search/, methods: [GET], limit: 2, window: 60s }
`);
  });
  afterEach(async () => {
    await gw.stop();
  });

  const TRICKS = [
    '/users/captcha/../../api/orders/',
    '/users/captcha/%2e%2e/%2e%2e/api/orders/',
    '/static/%2e%2e/api/',
    '/static/..%2fapi/',
    '/static/..%2Fapi/',
    '/static/%252e%252e/api/',
    '/static/..;/api/',
    '/static\\..\\api/',
    '//static/../api/',
    '/static/./../api/',
  ];

  it('never lets a throttled client reach the upstream through a dressed-up captcha or exempt path', async () => {
    const ip = { 'x-forwarded-for': '203.0.113.90' };
    for (let i = 0; i < 3; i++) expect(await rawGet(gw, '/api/', ip)).to.equal(200);
    expect(await rawGet(gw, '/api/', ip)).to.equal(429);
    const seen = upstream.requests.length;
    for (const target of TRICKS) expect(await rawGet(gw, target, ip), target).to.equal(429);
    expect(upstream.requests.length).to.equal(seen);
  });

  it('counts dressed-up exempt paths as the requests they are', async () => {
    const ip = { 'x-forwarded-for': '203.0.113.91' };
    const answers = [];
    for (const target of TRICKS.slice(2, 6)) answers.push(await rawGet(gw, target, ip));
    expect(answers).to.deep.equal([200, 200, 200, 429]);
    // A plain exempt path is still exempt.
    expect(await rawGet(gw, '/static/app.js', { 'x-forwarded-for': '203.0.113.92' })).to.equal(200);
  });

  it('does not let X-HTTP-Method-Override dodge a POST-only rule', async () => {
    const answers = [];
    for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      answers.push(
        await rawGet(gw, '/users/login/', { 'x-forwarded-for': '203.0.113.93', [header]: 'POST' }),
      );
    }
    expect(answers).to.deep.equal([200, 200, 429]);
  });

  it('does not let a harmless override header hide another, or a list, from a POST-only rule', async () => {
    const tricks: Record<string, string>[] = [
      { 'x-http-method-override': 'GET', 'x-method-override': 'POST' },
      { 'x-http-method-override': 'GET, POST' },
      { 'x-http-method': ' post ' },
    ];
    const answers = [];
    for (const trick of tricks) {
      answers.push(
        await rawGet(gw, '/users/login/', { 'x-forwarded-for': '203.0.113.95', ...trick }),
      );
    }
    expect(answers).to.deep.equal([200, 200, 429]);
  });

  it('counts HEAD like GET for a GET rule', async () => {
    const head = () =>
      new Promise<number>((resolve) => {
        http
          .request(
            {
              host: '127.0.0.1',
              port: gw.port,
              path: '/search/?q=x',
              method: 'HEAD',
              headers: { 'x-forwarded-for': '203.0.113.94' },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          )
          .end();
      });
    expect([await head(), await head(), await head()]).to.deep.equal([200, 200, 429]);
  });

  it('counts a rule path written without its trailing slash', async () => {
    const post = () =>
      fetch(gw.url + '/users/login', {
        method: 'POST',
        body: 'a',
        headers: { 'x-forwarded-for': '203.0.113.95' },
      }).then((r) => r.status);
    expect([await post(), await post(), await post()]).to.deep.equal([200, 200, 429]);
  });

  it('counts each pipelined request and answers them in order', async () => {
    const one = (close: boolean) =>
      `GET /api/ HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 203.0.113.96\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const raw = await rawExchange(
      gw.port,
      one(false) + one(false) + one(false) + one(false) + one(true),
    );
    expect(statuses(raw)).to.deep.equal([200, 200, 200, 429, 429]);
    expect(upstream.requests).to.have.length(3);
  });

  describe('ambiguous framing is refused with 400 and never forwarded', () => {
    const cases: [string, string][] = [
      ['duplicate Host', 'GET /api/ HTTP/1.1\r\nHost: shop\r\nHost: evil\r\n\r\n'],
      ['empty Host', 'GET /api/ HTTP/1.1\r\nHost: \r\n\r\n'],
      ['missing Host in HTTP/1.1', 'GET /api/ HTTP/1.1\r\n\r\n'],
      [
        'Transfer-Encoding: identity, chunked',
        'POST /api/ HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: identity, chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
      ],
      [
        'Transfer-Encoding: chunked, chunked',
        'POST /api/ HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
      ],
      [
        'Transfer-Encoding in HTTP/1.0',
        'POST /api/ HTTP/1.0\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
      ],
      [
        'Content-Length with Transfer-Encoding',
        'POST /api/ HTTP/1.1\r\nHost: shop\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop\r\n\r\n',
      ],
      [
        'two Content-Lengths',
        'POST /api/ HTTP/1.1\r\nHost: shop\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      ],
    ];
    for (const [name, request] of cases) {
      it(`refuses ${name}`, async () => {
        const raw = await rawExchange(gw.port, request);
        expect(statuses(raw)[0], raw).to.equal(400);
        expect(raw.toLowerCase()).to.include('cache-control: no-store');
        expect(upstream.requests).to.have.length(0);
      });
    }
  });
});

describe('every answer the gateway makes itself is no-store and tells nothing internal', () => {
  it('holds for 302, 429, 502, 504, 400, 405, 413, 415 and the captcha page', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(`
upstream: { url: "${upstream.url}", timeout: 300ms }
throttle: { limit: 1, rules: [], exempt: { paths: [/static/] } }
`);
    const dead = await startGateway('upstream: { url: "http://127.0.0.1:9" }');
    try {
      const answers: Response[] = [];
      const ip = { 'x-forwarded-for': '203.0.113.97' };
      await (await fetch(gw.url + '/a', { headers: ip })).arrayBuffer();
      answers.push(
        await fetch(gw.url + '/a', { headers: { ...ip, accept: 'text/html' }, redirect: 'manual' }),
      );
      answers.push(await fetch(gw.url + '/a', { headers: ip }));
      answers.push(await fetch(dead.url + '/static/x'));
      answers.push(await fetch(gw.url + '/static/../slow'.replace('/static/..', '')));
      answers.push(await fetch(gw.url + '/users/captcha/', { method: 'PUT' }));
      answers.push(
        await fetch(gw.url + '/users/captcha/', {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: 'x',
        }),
      );
      answers.push(
        await fetch(gw.url + '/users/captcha/', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: 'x'.repeat(20_000),
        }),
      );
      answers.push(await fetch(gw.url + '/users/captcha/'));
      const seen = answers.map((r) => r.status);
      expect(seen).to.deep.equal([302, 429, 502, 504, 405, 415, 413, 200]);
      for (const res of answers) {
        expect(res.headers.get('cache-control'), String(res.status)).to.equal('no-store');
        const body = await res.text();
        expect(body, String(res.status)).to.not.match(
          /127\.0\.0\.1|ECONN|ETIMEDOUT|\bat \S+ \(|node:internal/,
        );
      }
    } finally {
      await gw.stop();
      await dead.stop();
      await upstream.close();
    }
  });
});
