import { expect } from 'chai';
import { decide, type PolicyOptions } from '../../../gateway/policy/decide.js';

const enforce: PolicyOptions = { mode: 'enforce', onStoreError: 'allow' };

describe('decide', () => {
  it('proxies a client that is not throttled', () => {
    expect(decide({ throttledUntilMs: 0, nowMs: 1000 }, enforce)).to.deep.equal({
      kind: 'proxy',
      outcome: 'proxied',
    });
  });

  it('intercepts a throttled client with the seconds left, rounded up', () => {
    expect(decide({ throttledUntilMs: 10_500, nowMs: 1000 }, enforce)).to.deep.equal({
      kind: 'intercept',
      retryAfterS: 10,
    });
  });

  it('proxies once the block has run out', () => {
    expect(decide({ throttledUntilMs: 1000, nowMs: 1000 }, enforce).kind).to.equal('proxy');
  });

  it('only marks would_throttle in observe mode', () => {
    const observe: PolicyOptions = { mode: 'observe', onStoreError: 'allow' };
    expect(decide({ throttledUntilMs: 9000, nowMs: 1000 }, observe)).to.deep.equal({
      kind: 'proxy',
      outcome: 'would_throttle',
    });
  });

  it('fails open on a store error with on_error allow', () => {
    expect(decide({ throttledUntilMs: null, nowMs: 1000 }, enforce).kind).to.equal('proxy');
  });

  it('fails closed on a store error with on_error deny', () => {
    const deny: PolicyOptions = { mode: 'enforce', onStoreError: 'deny' };
    expect(decide({ throttledUntilMs: null, nowMs: 1000 }, deny).kind).to.equal('unavailable');
  });
});
