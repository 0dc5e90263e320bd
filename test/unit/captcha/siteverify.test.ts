// Checks how a siteverify answer is read: only a real `success: true` passes, an outage is never a
// pass or a rejection, and our hostname and score rules apply on top.
import { expect } from 'chai';
import {
  createSiteverify,
  judge,
  type SiteverifyResult,
} from '../../../gateway/captcha/siteverify.js';
import { startSiteverify, type SiteverifyServer } from '../../helpers/siteverify-server.js';

describe('createSiteverify', () => {
  let server: SiteverifyServer;
  let verify: ReturnType<typeof createSiteverify>;

  before(async () => {
    server = await startSiteverify();
    verify = createSiteverify({ url: server.url, secret: 'the-secret', timeoutMs: 300 });
  });
  after(() => server.close());
  beforeEach(() => {
    server.answer();
    server.calls.length = 0;
  });

  it('sends secret, response and remoteip as a form', async () => {
    await verify('pass-1', '203.0.113.7');
    expect(server.calls).to.deep.equal([
      { secret: 'the-secret', response: 'pass-1', remoteip: '203.0.113.7' },
    ]);
  });

  it('passes a success with its hostname and score', async () => {
    expect(await verify('pass', '203.0.113.7')).to.deep.equal({
      kind: 'success',
      hostname: 'shop.example',
      score: 0.9,
    });
  });

  it("rejects with the provider's error codes", async () => {
    expect(await verify('wrong', '203.0.113.7')).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['invalid-input-response'],
    });
  });

  it('does not accept "success": "true" as a string', async () => {
    server.answer(() => ({ body: { success: 'true', hostname: 'shop.example' } }));
    expect((await verify('pass', '203.0.113.7')).kind).to.equal('error');
  });

  it('does not accept "success": 1', async () => {
    server.answer(() => ({ body: { success: 1 } }));
    expect((await verify('pass', '203.0.113.7')).kind).to.equal('error');
  });

  it('treats a 5xx as an outage, even with a success body', async () => {
    server.answer(() => ({ status: 503, body: { success: true } }));
    expect(await verify('pass', '203.0.113.7')).to.deep.equal({
      kind: 'error',
      reason: 'status 503',
    });
  });

  it('treats a provider that never answers as an outage after the timeout', async () => {
    server.answer(() => ({ hang: true }));
    const started = Date.now();
    const result = await verify('pass', '203.0.113.7');
    expect(result.kind).to.equal('error');
    expect(Date.now() - started).to.be.below(3000);
  });

  it('treats a body that is not JSON as an outage', async () => {
    server.answer(() => ({ raw: '<html>maintenance</html>' }));
    expect((await verify('pass', '203.0.113.7')).kind).to.equal('error');
  });

  it('treats JSON that is not an object as an outage', async () => {
    for (const raw of ['true', '[{"success":true}]', 'null', '"success"']) {
      server.answer(() => ({ raw }));
      expect((await verify('pass', '203.0.113.7')).kind, raw).to.equal('error');
    }
  });

  it('treats an unreachable provider as an outage', async () => {
    const gone = await startSiteverify();
    const url = gone.url;
    await gone.close();
    const result = await createSiteverify({ url, secret: 's', timeoutMs: 1000 })('pass', '::1');
    expect(result.kind).to.equal('error');
  });

  it('treats a wrong secret as an outage, not as the visitor failing', async () => {
    server.answer(() => ({ body: { success: false, 'error-codes': ['invalid-input-secret'] } }));
    expect((await verify('pass', '203.0.113.7')).kind).to.equal('error');
  });

  it('reads a 4xx that carries an answer as that answer', async () => {
    server.answer(() => ({
      status: 400,
      body: { success: false, 'error-codes': ['bad-request'] },
    }));
    expect(await verify('pass', '203.0.113.7')).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['bad-request'],
    });
  });

  it('echoes only plain error codes back, never arbitrary provider text', async () => {
    server.answer(() => ({
      body: {
        success: false,
        'error-codes': ['timeout-or-duplicate', '<script>', 7, 'x'.repeat(100)],
      },
    }));
    expect(await verify('pass', '203.0.113.7')).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['timeout-or-duplicate'],
    });
  });
});

describe('judge', () => {
  const success = (hostname?: string, score?: number): SiteverifyResult => ({
    kind: 'success',
    ...(hostname === undefined ? {} : { hostname }),
    ...(score === undefined ? {} : { score }),
  });
  const open = { hostnames: [], minScore: 0 };

  it('passes a success when no rules are set', () => {
    expect(judge(success(), open).kind).to.equal('success');
  });

  it('passes a hostname on the list, ignoring case', () => {
    expect(
      judge(success('Shop.Example'), { hostnames: ['shop.example'], minScore: 0 }).kind,
    ).to.equal('success');
  });

  it('rejects a token solved on another site (hostname-mismatch)', () => {
    const rules = { hostnames: ['shop.example'], minScore: 0 };
    expect(judge(success('evil.example'), rules)).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['hostname-mismatch'],
    });
    expect(judge(success(), rules)).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['hostname-mismatch'],
    });
  });

  it('rejects a score below min_score, or a missing score (score-too-low)', () => {
    const rules = { hostnames: [], minScore: 0.5 };
    expect(judge(success('a', 0.5), rules).kind).to.equal('success');
    expect(judge(success('a', 0.49), rules)).to.deep.equal({
      kind: 'rejected',
      errorCodes: ['score-too-low'],
    });
    expect(judge(success('a'), rules).kind).to.equal('rejected');
  });

  it('passes rejections and outages through unchanged', () => {
    const rejected: SiteverifyResult = { kind: 'rejected', errorCodes: ['x'] };
    const error: SiteverifyResult = { kind: 'error', reason: 'timeout' };
    expect(judge(rejected, { hostnames: ['a'], minScore: 1 })).to.equal(rejected);
    expect(judge(error, { hostnames: ['a'], minScore: 1 })).to.equal(error);
  });
});
