import { expect } from 'chai';
import { parseConfig } from '../../../gateway/config/load.js';

const problemsOf = (yaml: string): readonly string[] => {
  const result = parseConfig(`upstream: { url: "http://127.0.0.1:1" }\n${yaml}`, {});
  return result.ok ? [] : result.problems;
};

describe('config: shared addresses and clearance', () => {
  it('accepts the storefront example and fills budget defaults', () => {
    const result = parseConfig(
      `upstream: { url: "http://127.0.0.1:1" }
throttle:
  shared:
    - name: storefront
      addresses: [private]
      budgets: [{ name: pages, limit: 20000, window: 60s }]`,
      {},
    );
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.config.throttle.shared[0]!.budgets[0]).to.deep.equal({
      name: 'pages',
      path: '/',
      methods: [],
      limit: 20000,
      window: 60_000,
    });
    expect(result.config.clearance).to.deep.equal({
      enabled: true,
      cookie: 'cgw_clearance',
      ttl: 1_800_000,
      secure: 'auto',
      domain: '',
    });
  });

  it('explains each mistake with its path', () => {
    const fields = problemsOf(`
throttle:
  shared:
    - name: a
      addresses: [10.1]
      budgets: [{ name: b, limit: 0, window: 1s }]
clearance: { cookie: "bad name", ttl: 10s, domain: "http://x" }`).join('\n');
    expect(fields).to.include('throttle.shared.0.addresses.0: 10.1 is not an address');
    expect(fields).to.include('throttle.shared.0.budgets.0.limit: 0 is not a whole number');
    expect(fields).to.include('clearance.cookie: "bad name" is not a cookie name');
    expect(fields).to.include('clearance.ttl: "10s" is not a duration of at least 60000ms');
    expect(fields).to.include('clearance.domain: "http://x" is not a domain name');

    const groups = problemsOf(`
throttle:
  shared:
    - { name: a, addresses: [] }
    - name: a
      addresses: [private]
      budgets: [{ name: b, limit: 1, window: 1s }, { name: b, limit: 2, window: 1s }]`).join('\n');
    expect(groups).to.include('throttle.shared.0.addresses: must list at least one');
    expect(groups).to.include('throttle.shared.1.name: "a" is used by an earlier group');
    expect(groups).to.include('throttle.shared.1.budgets.1.name: "b" is used by an earlier budget');
  });
});
