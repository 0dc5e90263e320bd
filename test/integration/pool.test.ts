// Checks pool exhaustion through a real gateway: with every upstream socket held by
// a stalled request, the requests waiting for one are answered 504 within upstream.timeout, and
// the gateway serves again once the upstream does.
import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TIMEOUT_MS = 1000;

describe('a stalled upstream with every pooled socket busy', function () {
  this.timeout(15_000);

  let upstream: Upstream;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway(`
upstream: { url: "${upstream.url}", timeout: ${TIMEOUT_MS}ms, max_sockets: 2 }
throttle: { limit: 1000, rules: [] }
`);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  it('answers the requests queued behind it 504 within upstream.timeout, not after k × timeout', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const res = await fetch(`${gw.url}/slow?n=${i}`);
        return { res, body: await res.text(), elapsedMs: Date.now() - started };
      }),
    );
    for (const { res, body } of answers) {
      expect(res.status).to.equal(504);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(JSON.parse(body)).to.have.property('detail');
    }
    const elapsed = answers.map((a) => a.elapsedMs);
    // Two sockets, six requests: three rounds of upstream.timeout if the wait did not count.
    // Twice the deadline leaves a busy machine room and still tells one round from three.
    expect(Math.max(...elapsed), `answered after ${elapsed.join(', ')} ms`).to.be.below(
      2 * TIMEOUT_MS,
    );
  });

  it('serves again through the same pool once the upstream answers', async () => {
    const res = await fetch(`${gw.url}/after-stall`);
    expect(res.status).to.equal(200);
    const seen = (await res.json()) as { url: string };
    expect(seen.url).to.equal('/after-stall');
  });
});
