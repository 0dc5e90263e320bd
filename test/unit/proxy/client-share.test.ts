// Checks the per-client share of the upstream: the configured bound, never more than half the pool.
import { expect } from 'chai';
import { clientShare } from '../../../gateway/proxy/client-share.js';

describe('clientShare', () => {
  it('takes upstream.max_requests_per_client when it is within half the pool', () => {
    expect(clientShare(32, 512)).to.equal(32);
    expect(clientShare(2, 8)).to.equal(2);
  });

  it('never lets one client hold more than half the pool, whatever is configured', () => {
    expect(clientShare(32, 4)).to.equal(2);
    expect(clientShare(1000, 512)).to.equal(256);
    expect(clientShare(32, 5)).to.equal(2);
  });

  it('leaves a pool of one socket usable: a share of one', () => {
    expect(clientShare(32, 1)).to.equal(1);
  });
});
