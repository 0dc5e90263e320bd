// Requests the gateway must answer itself and never forward: too many header lines, a target or
// Host two servers could read apart, CONNECT; Expect: 100-continue from a throttled client; path
// parameters that would hide a request from its rule; and the `refused` outcome they are counted as.
import { expect } from 'chai';
import net from 'node:net';
import { captureLog, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { rawExchange, statuses } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** `count` header lines `x-filler-N: 1`, each ending in CRLF. */
function fillerLines(count: number): string {
  let lines = '';
  for (let i = 0; i < count; i++) lines += `x-filler-${i}: 1\r\n`;
  return lines;
}

/**
 * Resolves once `check` holds, trying again every 10 ms for up to 5 s: the gateway counts and logs a
 * request when its socket closes, which may come just after the client saw the answer.
 */
async function eventually(check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The response head of `raw` (status line and fields), lower-cased. */
function headOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
}

describe('requests the gateway refuses itself', () => {
  let upstream: Upstream;
  let gw: RunningGateway;
  let log: ReturnType<typeof captureLog>;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    upstream.requests.length = 0;
    log = captureLog();
    gw = await startGateway(
      `
upstream: { url: "${upstream.url}" }
log: { level: info }
throttle:
  limit: 2
  rules:
    - { name: login, path: /users/login/, methods: [POST], limit: 2, window: 60s }
`,
      { logTo: log },
    );
  });
  afterEach(async () => {
    await gw.stop();
  });

  const send = (request: string) => rawExchange(gw.port, request);
  const getWith = (target: string, headers: string) =>
    send(`GET ${target} HTTP/1.1\r\n${headers}connection: close\r\n\r\n`);

  async function metric(outcome: string): Promise<number> {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const line = new RegExp(`^gateway_requests_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm');
    return Number(line.exec(text)?.[1] ?? 0);
  }

  describe('header lines', () => {
    it('refuses with 431 a request whose header lines exceed what the parser keeps', async () => {
      // Past line 1,023 Node's default parser drops lines unseen: a second Host there was forwarded.
      const hidden = `host: evil.example\r\n`;
      const answer = await getWith('/', `host: shop\r\n${fillerLines(1100)}${hidden}`);
      expect(statuses(answer)).to.deep.equal([431]);
      expect(upstream.requests).to.have.length(0);
    });

    it('refuses with 431 a Transfer-Encoding placed past a thousand header lines', async () => {
      const answer = await send(
        `POST / HTTP/1.1\r\nhost: shop\r\n${fillerLines(1100)}` +
          `transfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      );
      expect(statuses(answer)).to.deep.equal([431]);
      expect(upstream.requests).to.have.length(0);
    });

    it('refuses more than 100 header lines with 431 and forwards 100', async () => {
      // host + connection + 98 fillers = 100 lines.
      expect(statuses(await getWith('/', `host: shop\r\n${fillerLines(98)}`))).to.deep.equal([200]);
      expect(statuses(await getWith('/', `host: shop\r\n${fillerLines(99)}`))).to.deep.equal([431]);
      expect(upstream.requests).to.have.length(1);
    });
  });

  describe('request-target and Host', () => {
    const REFUSED: [string, string, string][] = [
      ['a fragment in the target', '/a#b', 'host: shop\r\n'],
      ['an asterisk-form target with GET', '*', 'host: shop\r\n'],
      ['a Host holding a list', '/', 'host: shop, evil\r\n'],
      ['a Host holding userinfo', '/', 'host: a@evil\r\n'],
      ['a Host with a space', '/', 'host: shop evil\r\n'],
      ['an absolute-form target naming another host', 'http://evil.example/x', 'host: shop\r\n'],
      ['an absolute-form target with userinfo', 'http://user:hunter2@shop/x', 'host: shop\r\n'],
      ['an authority-form target', 'shop:443', 'host: shop\r\n'],
    ];
    for (const [what, target, headers] of REFUSED) {
      it(`refuses with 400 ${what}, never forwarding it`, async () => {
        const answer = await getWith(target, headers);
        expect(statuses(answer)).to.deep.equal([400]);
        expect(upstream.requests).to.have.length(0);
      });
    }

    it('never logs the userinfo of an absolute-form target', async () => {
      await getWith('http://user:hunter2@shop/x?q=1', 'host: shop\r\n');
      await eventually(() => log.lines.some((l) => l.event === 'request'));
      expect(log.lines.filter((l) => l.event === 'request')).to.have.length(1);
      expect(JSON.stringify(log.lines)).not.to.include('hunter2');
    });

    it('forwards an absolute-form target naming the Host in origin-form', async () => {
      const answer = await getWith('http://Shop.example/x?y=1', 'host: shop.example\r\n');
      expect(statuses(answer)).to.deep.equal([200]);
      expect(upstream.requests.map((r) => [r.url, r.headers.host])).to.deep.equal([
        ['/x?y=1', 'shop.example'],
      ]);
    });

    it('forwards ordinary hosts: names, ports, IPv4 and IPv6 literals', async () => {
      const hosts = ['shop.example', 'shop.example:8080', '127.0.0.1:80', '[::1]:8080'];
      for (const [i, host] of hosts.entries()) {
        const headers = `host: ${host}\r\nx-forwarded-for: 203.0.113.${50 + i}\r\n`;
        expect(statuses(await getWith('/', headers)), host).to.deep.equal([200]);
      }
      expect(upstream.requests).to.have.length(4);
    });
  });

  describe('CONNECT and Expect', () => {
    it('answers CONNECT with 405 and Allow, and closes the connection', async () => {
      const answer = await send(
        'CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\n\r\n',
      );
      expect(statuses(answer)).to.deep.equal([405]);
      expect(headOf(answer)).to.include('allow: get, head, post');
      expect(upstream.requests).to.have.length(0);
      expect(await metric('refused')).to.equal(1);
    });

    it('answers a throttled Expect: 100-continue with 429 and no 100', async () => {
      const client = 'x-forwarded-for: 203.0.113.40\r\n';
      for (let i = 0; i < 3; i++) await getWith('/api/', `host: shop\r\n${client}`);
      const answer = await send(
        `POST /api/ HTTP/1.1\r\nhost: shop\r\n${client}expect: 100-continue\r\ncontent-length: 5\r\n\r\n`,
      );
      expect(statuses(answer)).to.deep.equal([429]);
      expect(upstream.requests).to.have.length(2);
    });

    it('sends 100 Continue to a client that is not throttled, then forwards its body', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.setEncoding('latin1');
      let received = '';
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const continued = new Promise<void>((resolve) =>
        socket.on('data', (chunk: string) => {
          received += chunk;
          if (received.includes('\r\n\r\n')) resolve();
        }),
      );
      socket.write(
        'POST /api/ HTTP/1.1\r\nhost: shop\r\nexpect: 100-continue\r\ncontent-length: 5\r\nconnection: close\r\n\r\n',
      );
      await continued;
      expect(statuses(received)).to.deep.equal([100]);
      socket.write('hello');
      await closed;
      expect(statuses(received)).to.deep.equal([100, 200]);
      expect(upstream.requests.map((r) => r.bodyBytes)).to.deep.equal([5]);
    });
  });

  describe('path parameters', () => {
    it('counts /users/login;jsessionid=1/ and /users;x/login/ under the login rule', async () => {
      const post = (target: string) =>
        send(
          `POST ${target} HTTP/1.1\r\nhost: shop\r\nx-forwarded-for: 203.0.113.41\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        );
      const answers = [];
      for (const target of ['/users/login;jsessionid=1/', '/users;x/login/', '/users/login/']) {
        answers.push(...statuses(await post(target)));
      }
      // The login rule allows 2 a minute: the third is over it, whichever way it was spelt.
      expect(answers).to.deep.equal([200, 200, 429]);
    });
  });

  describe('metrics', () => {
    it('counts a malformed request as refused, never as throttled', async () => {
      await getWith('/', 'host: shop\r\nhost: evil\r\n');
      await getWith('/', `host: shop\r\n${fillerLines(200)}`);
      await eventually(async () => (await metric('refused')) === 2);
      expect(await metric('refused')).to.equal(2);
      expect(await metric('throttled')).to.equal(0);
    });

    it('counts an upgrade to a captcha path as refused, not as a failed captcha', async () => {
      const answer = await send(
        'GET /users/captcha/ HTTP/1.1\r\nhost: shop\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
      );
      expect(statuses(answer)).to.deep.equal([400]);
      await eventually(async () => (await metric('refused')) === 1);
      expect(await metric('refused')).to.equal(1);
      expect(await metric('captcha_failed')).to.equal(0);
    });
  });
});
