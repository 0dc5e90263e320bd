// The throttles a replica keeps in memory: answered until they end, rechecked once per period,
// forgotten on a lift, never resurrected by an answer Redis gave before the lift, and bounded.
import { expect } from 'chai';
import { ThrottleCache } from '../../../gateway/limiter/throttle-cache.js';

const T0 = 1_700_000_000_000;

describe('ThrottleCache', () => {
  const cache = (maxClients = 100) => new ThrottleCache({ maxClients, recheckMs: 5_000 });

  it('answers a remembered throttle until it ends, then asks Redis again', () => {
    const c = cache();
    c.remember('a', T0 + 60_000, T0, c.generation);
    expect(c.lookup('a', T0 + 1_000)).to.equal(T0 + 60_000);
    expect(c.lookup('a', T0 + 60_000)).to.equal(0);
    expect(c.size).to.equal(0);
  });

  it('does not remember a client Redis says is not throttled', () => {
    const c = cache();
    c.remember('a', 0, T0, c.generation);
    expect(c.lookup('a', T0)).to.equal(0);
    expect(c.size).to.equal(0);
  });

  it('sends one caller per recheck period to Redis and answers the others from memory', () => {
    const c = cache();
    c.remember('a', T0 + 60_000, T0, c.generation);
    expect(c.lookup('a', T0 + 4_999)).to.equal(T0 + 60_000);
    expect(c.lookup('a', T0 + 5_000)).to.equal(0); // this one rechecks
    expect(c.lookup('a', T0 + 5_001)).to.equal(T0 + 60_000);
  });

  it('forgets a lifted throttle at once', () => {
    const c = cache();
    c.remember('a', T0 + 60_000, T0, c.generation);
    c.forget('a');
    expect(c.lookup('a', T0 + 1)).to.equal(0);
  });

  it('ignores an answer Redis gave before a lift that arrived meanwhile', () => {
    const c = cache();
    const asked = c.generation; // a hit goes to Redis…
    c.forget('a'); // …the lift is heard while it waits…
    c.remember('a', T0 + 60_000, T0, asked); // …and its stale "throttled" must not stick
    expect(c.lookup('a', T0 + 1)).to.equal(0);
  });

  it('trusts nothing after a gap in the subscription', () => {
    const c = cache();
    c.remember('a', T0 + 60_000, T0, c.generation);
    c.remember('b', T0 + 60_000, T0, c.generation);
    c.clear();
    expect(c.lookup('a', T0 + 1)).to.equal(0);
    expect(c.lookup('b', T0 + 1)).to.equal(0);
  });

  it('keeps at most maxClients throttles, forgetting the least recently seen', () => {
    const c = cache(1_000);
    for (let i = 0; i < 50_000; i += 1) c.remember(`client-${i}`, T0 + 60_000, T0, c.generation);
    expect(c.size).to.equal(1_000);
    expect(c.lookup('client-49999', T0 + 1)).to.equal(T0 + 60_000);
    expect(c.lookup('client-0', T0 + 1)).to.equal(0);
  });

  it('keys on the store key as given, whatever it holds', () => {
    const c = cache();
    const keys = ['203.0.113.7', '2001:db8::/64', 'clr:Zm9vYmFy', ''];
    for (const key of keys) c.remember(key, T0 + 60_000, T0, c.generation);
    for (const key of keys) expect(c.lookup(key, T0 + 1)).to.equal(T0 + 60_000);
  });
});
