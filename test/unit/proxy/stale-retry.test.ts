// Checks the one retry of a request that met a stale keep-alive connection: the upstream closed
// an idle pooled connection just as the proxy reused it. Deterministic on loopback: the scripted
// upstream acts the moment the request arrives on the reused connection, the worst case of the
// race. Only GET and HEAD without a body are sent again, once, on a new connection.
import { expect } from 'chai';
import {
  startScriptedUpstream,
  type ScriptedReply,
  type ScriptedRequest,
  type ScriptedUpstream,
} from '../../helpers/upstream.js';
import { call, startGateway, type Gateway, type Reply } from './harness.js';

/** How long `/late` waits on the reused connection before closing it. */
const LATE_MS = 1200;
/** upstream.timeout for the deadline test: `/late` leaves it 800 ms for the resend. */
const DEADLINE_MS = 2000;

/**
 * The first request on any connection is answered, so `/prime` leaves one idle pooled connection.
 * On a reused connection (`onConnection` > 0): `/stale` is closed (FIN) and `/reset` reset (RST)
 * on arrival, `/partial` gets half a status line first, `/late` is closed after LATE_MS.
 * `/always-reset` is reset on any connection; `/late` is never answered on a new one.
 */
function script(request: ScriptedRequest, reply: ScriptedReply): void {
  const path = request.url.split('?')[0];
  const reused = request.onConnection > 0;
  if (path === '/always-reset') return reply.reset();
  if (!reused) {
    if (path !== '/late') reply.answer();
    return;
  }
  switch (path) {
    case '/stale':
      return reply.hangUp();
    case '/reset':
      return reply.reset();
    case '/partial':
      return void reply.send('HTTP/1.1 200 O').then(() => reply.hangUp());
    case '/late':
      return void setTimeout(() => reply.hangUp(), LATE_MS);
    default:
      return reply.answer();
  }
}

/** What the upstream saw of `path`, as `connection#onConnection`. */
function arrivals(upstream: ScriptedUpstream, path: string): string[] {
  return upstream.requests
    .filter((r) => r.url.split('?')[0] === path)
    .map((r) => `${r.connection}#${r.onConnection}`);
}

/** The scripted upstream answers with the request it read. */
function answered(reply: Reply): ScriptedRequest {
  return JSON.parse(reply.body.toString()) as ScriptedRequest;
}

describe('the stale keep-alive retry', function () {
  this.timeout(15_000);

  let upstream: ScriptedUpstream;
  let gw: Gateway;

  beforeEach(async () => {
    upstream = await startScriptedUpstream(script);
    gw = await startGateway(upstream.url);
  });
  afterEach(async () => {
    await gw.close();
    await upstream.close();
  });

  /** One exchange that leaves connection 1 idle in the proxy's pool. */
  async function prime(target: Gateway = gw): Promise<void> {
    const reply = await call(target.port, { path: '/prime' });
    expect(reply.status, 'the priming request').to.equal(200);
  }

  it('sends a GET again on a new connection when the upstream closed the reused one', async () => {
    await prime();
    const reply = await call(gw.port, { path: '/stale?q=1' });
    expect(reply.status).to.equal(200);
    expect(arrivals(upstream, '/stale')).to.deep.equal(['1#1', '2#0']);
    const resent = answered(reply);
    expect(resent.url).to.equal('/stale?q=1');
    // The resend keeps the forwarding headers and tells the upstream not to keep the connection.
    expect(resent.headers['x-forwarded-for']).to.equal('127.0.0.1');
    expect(resent.headers.connection).to.equal('close');
    expect(gw.faults).to.deep.equal([]);
  });

  it('sends a GET again when the reused connection is reset (ECONNRESET)', async () => {
    await prime();
    const reply = await call(gw.port, { path: '/reset' });
    expect(reply.status).to.equal(200);
    expect(arrivals(upstream, '/reset')).to.deep.equal(['1#1', '2#0']);
    expect(gw.faults).to.deep.equal([]);
  });

  it('sends a HEAD again on a new connection', async () => {
    await prime();
    const reply = await call(gw.port, { method: 'HEAD', path: '/stale' });
    expect(reply.status).to.equal(200);
    expect(reply.body.length).to.equal(0);
    expect(arrivals(upstream, '/stale')).to.deep.equal(['1#1', '2#0']);
  });

  it('keeps the pool working after a resend', async () => {
    await prime();
    expect((await call(gw.port, { path: '/stale' })).status).to.equal(200);
    // The resend's connection (2) is never pooled: the next request opens a third, which the
    // pool then keeps for the one after.
    const after = await call(gw.port, { path: '/after' });
    expect(answered(after)).to.include({ connection: 3, onConnection: 0 });
    const again = await call(gw.port, { path: '/again' });
    expect(answered(again)).to.include({ connection: 3, onConnection: 1 });
  });

  it('never sends a POST twice: a stale connection under a POST answers 502', async () => {
    await prime();
    const reply = await call(gw.port, { method: 'POST', path: '/stale', body: 'order=1' });
    expect(reply.status).to.equal(502);
    expect(arrivals(upstream, '/stale')).to.have.length.at.most(1);
    expect(upstream.connections).to.equal(1);
    expect(gw.faults).to.deep.equal([{ url: '/stale', kind: 'reset' }]);
  });

  it('never sends any other method twice, even without a body', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      await prime();
      const opened = upstream.connections;
      const path = `/stale?method=${method}`;
      const reply = await call(gw.port, { method, path, headers: { 'content-length': 0 } });
      expect(reply.status, method).to.equal(502);
      expect(upstream.connections, `${method}: connections opened`).to.equal(opened);
      expect(
        upstream.requests.filter((r) => r.url === path),
        method,
      ).to.have.length.at.most(1);
    }
  });

  it('never sends a GET with a body twice', async () => {
    await prime();
    const reply = await call(gw.port, {
      method: 'GET',
      path: '/stale',
      headers: { 'content-length': 3 },
      body: 'q=1',
    });
    expect(reply.status).to.equal(502);
    expect(arrivals(upstream, '/stale')).to.have.length.at.most(1);
    expect(upstream.connections).to.equal(1);
  });

  it('sends again only once: a reset of the resend answers 502', async () => {
    await prime();
    const reply = await call(gw.port, { path: '/always-reset' });
    expect(reply.status).to.equal(502);
    expect(arrivals(upstream, '/always-reset')).to.deep.equal(['1#1', '2#0']);
    expect(gw.faults).to.deep.equal([{ url: '/always-reset', kind: 'reset' }]);
  });

  it('does not send again when a new connection breaks (the upstream saw a fresh request)', async () => {
    const reply = await call(gw.port, { path: '/always-reset' });
    expect(reply.status).to.equal(502);
    expect(arrivals(upstream, '/always-reset')).to.deep.equal(['1#0']);
  });

  it('does not send again once part of an answer arrived', async () => {
    await prime();
    const reply = await call(gw.port, { path: '/partial' });
    expect(reply.status).to.equal(502);
    expect(arrivals(upstream, '/partial')).to.deep.equal(['1#1']);
    expect(upstream.connections).to.equal(1);
  });

  it('keeps upstream.timeout as the deadline of the whole request, resend included', async () => {
    const impatient = await startGateway(upstream.url, { upstream: { timeout: DEADLINE_MS } });
    try {
      await prime(impatient);
      const started = Date.now();
      const reply = await call(impatient.port, { path: '/late' });
      const elapsed = Date.now() - started;
      expect(reply.status).to.equal(504);
      // The resend happened, on a new connection, and was left unanswered.
      expect(arrivals(upstream, '/late')).to.deep.equal(['1#1', '2#0']);
      // A fresh deadline for the resend would answer at LATE_MS + DEADLINE_MS (3.2 s).
      expect(elapsed, `answered after ${elapsed} ms`).to.be.below(DEADLINE_MS + 800);
      expect(impatient.faults).to.deep.equal([{ url: '/late', kind: 'timeout' }]);
    } finally {
      await impatient.close();
    }
  });
});
