// store.redis.mode and its sections: what --check says about a Sentinel or Cluster config, and
// the target the store is given.
import { expect } from 'chai';
import { parseConfig } from '../../../gateway/config/load.js';
import { parseHostPort } from '../../../gateway/config/host-port.js';
import { redisTarget } from '../../../gateway/limiter/create-store.js';

const UP = 'upstream: { url: "http://127.0.0.1:8000" }\n';

function problems(source: string): readonly string[] {
  const result = parseConfig(UP + source, {});
  return result.ok ? [] : result.problems;
}

describe('store.redis modes', () => {
  it('reads host:port with names, IPv4 and bracketed IPv6, and refuses anything else', () => {
    expect(parseHostPort('redis-0.redis:26379')).to.deep.equal({
      host: 'redis-0.redis',
      port: 26379,
    });
    expect(parseHostPort('10.0.0.5:6379')).to.deep.equal({ host: '10.0.0.5', port: 6379 });
    expect(parseHostPort('[2001:db8::5]:6379')).to.deep.equal({ host: '2001:db8::5', port: 6379 });
    for (const bad of [
      'redis',
      'redis:',
      ':6379',
      'redis:0',
      'redis:65536',
      'redis://x:1',
      '2001:db8::5:6379',
    ]) {
      expect(parseHostPort(bad), bad).to.equal(undefined);
    }
  });

  it('says what a Sentinel config lacks, every problem at once', () => {
    const found = problems('store: { type: redis, redis: { mode: sentinel } }');
    expect(found.join('\n'))
      .to.include('store.redis.sentinel.master_name')
      .and.include('store.redis.sentinel.nodes');
  });

  it('says a Cluster config needs seed nodes, and which address is not host:port', () => {
    expect(problems('store: { type: redis, redis: { mode: cluster } }').join('\n')).to.include(
      'store.redis.cluster.nodes',
    );
    const found = problems(
      'store: { type: redis, redis: { mode: cluster, cluster: { nodes: ["redis-0:6379", "redis-1"] } } }',
    );
    expect(found.join('\n')).to.include('store.redis.cluster.nodes.1').and.include('host:port');
  });

  it('does not ask for Sentinel or Cluster keys with the memory store', () => {
    expect(problems('store: { type: memory, redis: { mode: sentinel } }')).to.deep.equal([]);
  });

  it('hands the store the sentinels, the master name and both credentials', () => {
    const result = parseConfig(
      UP +
        `store:
  type: redis
  redis:
    mode: sentinel
    sentinel:
      master_name: mymaster
      nodes: [s-0:26379, "[::1]:26380"]
      password: data-secret
      sentinel_password: sentinel-secret
      tls: true`,
      {},
    );
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(redisTarget(result.config.store.redis)).to.deep.equal({
      mode: 'sentinel',
      masterName: 'mymaster',
      sentinels: [
        { host: 's-0', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      username: '',
      password: 'data-secret',
      sentinelUsername: '',
      sentinelPassword: 'sentinel-secret',
      tls: true,
    });
  });

  it('hands the store the cluster seeds and keeps the URL for mode single', () => {
    const cluster = parseConfig(
      UP +
        'store: { type: redis, redis: { mode: cluster, cluster: { nodes: [c-0:6379], password: p } } }',
      {},
    );
    if (!cluster.ok) expect.fail(cluster.problems.join('\n'));
    expect(redisTarget(cluster.config.store.redis)).to.deep.equal({
      mode: 'cluster',
      seeds: [{ host: 'c-0', port: 6379 }],
      username: '',
      password: 'p',
      tls: false,
    });
    const single = parseConfig(UP + 'store: { type: redis }', {});
    if (!single.ok) expect.fail(single.problems.join('\n'));
    expect(redisTarget(single.config.store.redis)).to.deep.equal({
      mode: 'single',
      url: 'redis://127.0.0.1:6379/0',
    });
  });
});
