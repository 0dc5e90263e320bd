// Two gateway replicas on a real Redis Cluster (three primaries, a replica each, a password): each
// client's keys live on one slot, counts are exact whichever primary holds them, the admin listing
// and the gauge walk every primary, and a primary killed and replaced by its replica is survived.
import { expect } from 'chai';
import { createCluster } from 'redis';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startRedisCluster, type RedisClusterSetup } from '../helpers/redis-cluster.js';
import { eventually, inspector, needRedisServer, randomPrefix } from '../helpers/redis-server.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const LIMIT = 3;
const TOKEN = 'admin-token-for-the-cluster-test';
const PASSWORD = 'cluster-nodes-secret';

describe('Redis Cluster: two replicas over three primaries', function () {
  this.timeout(120_000);
  let cluster: RedisClusterSetup;
  let upstream: Upstream;
  let prefix: string;
  let a: RunningGateway;
  let b: RunningGateway;

  before(async function () {
    await needRedisServer(this);
    [cluster, upstream] = await Promise.all([
      startRedisCluster({ primaries: 3, password: PASSWORD }),
      startUpstream(),
    ]);
    prefix = randomPrefix();
    const yaml = (onError: string) => `
upstream: { url: "${upstream.url}" }
throttle: { limit: 1000000, window: 1h, rules: [{ name: few, path: /few/, limit: ${LIMIT}, window: 1h }] }
admin: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
store:
  type: redis
  redis:
    mode: cluster
    prefix: "${prefix}"
    on_error: ${onError}
    command_timeout: 1s
    connect_timeout: 500ms
    cluster:
      nodes: [${cluster.seeds
        .slice(0, 2)
        .map((s) => `"${s.host}:${s.port}"`)
        .join(', ')}]
      password: ${PASSWORD}
`;
    [a, b] = await Promise.all([startGateway(yaml('allow')), startGateway(yaml('deny'))]);
    for (const gw of [a, b]) {
      await eventually(() => gw.gateway.store.ping().then(() => true), { what: 'the store' });
    }
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await upstream?.close();
    await cluster?.close();
  });

  async function get(gw: RunningGateway, ip: string, path = '/api/'): Promise<number> {
    const res = await fetch(gw.url + path, { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return res.status;
  }

  const ips = Array.from({ length: 30 }, (_, i) => `198.51.100.${i + 1}`);

  it('counts exactly across replicas for clients on every primary', async () => {
    const statuses = await Promise.all(
      ips.map(async (ip) => {
        const seen = [];
        for (const gw of [a, b, a, b]) seen.push(await get(gw, ip, '/few/'));
        return seen;
      }),
    );
    for (const seen of statuses) expect(seen).to.deep.equal([200, 200, 200, 429]);
    // The clients' keys are spread over every primary, each client's keys on one node.
    const primaries = await cluster.primaryPorts();
    expect(primaries).to.have.length(3);
    for (const port of primaries) {
      const node = await inspector(`redis://:${PASSWORD}@127.0.0.1:${port}`);
      try {
        const keys: string[] = [];
        for await (const page of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
          keys.push(...page);
        }
        expect(keys.length, `keys on ${port}`).to.be.greaterThan(0);
        for (const key of keys.filter((k) => k.endsWith(':throttle'))) {
          expect(keys).to.include(key.replace(/:throttle$/, ':windows'));
        }
      } finally {
        node.destroy();
      }
    }
  });

  it('lists the throttled clients of every primary, page by page, and counts them all', async () => {
    const listed: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const res = await fetch(
        `${a.adminUrl}/admin/throttled?limit=5${cursor === '' ? '' : `&cursor=${cursor}`}`,
        { headers: { authorization: `Bearer ${TOKEN}` } },
      );
      expect(res.status).to.equal(200);
      const page = (await res.json()) as { clients: { client: string }[]; cursor?: string };
      listed.push(...page.clients.map((c) => c.client));
      cursor = page.cursor ?? '';
      pages += 1;
    } while (cursor !== '' && pages < 1000);
    expect([...new Set(listed)].sort()).to.deep.equal([...ips].sort());

    const metrics = await (await fetch(`${b.adminUrl}/metrics`)).text();
    expect(metrics).to.match(/^gateway_throttled_clients 30$/m);
  });

  it("goes by on_error while a client's slot migrates, then follows MOVED and counts exactly", async () => {
    const ip = '198.51.100.150';
    const key = `${prefix}{${ip}}:windows`;
    const node = (port: number) => inspector(`redis://:${PASSWORD}@127.0.0.1:${port}`);
    for (const gw of [a, b, a]) expect(await get(gw, ip, '/load/')).to.equal(200);

    const primaries = await cluster.primaryPorts();
    const ids = new Map<number, string>();
    let slot = -1;
    let source = 0;
    for (const port of primaries) {
      const client = await node(port);
      try {
        ids.set(port, String(await client.sendCommand(['CLUSTER', 'MYID'])));
        slot = await client.clusterKeySlot(key);
        const held = await client.sendCommand(['CLUSTER', 'COUNTKEYSINSLOT', String(slot)]);
        if (Number(held) > 0) source = port;
      } finally {
        client.destroy();
      }
    }
    const target = primaries.find((port) => port !== source)!;
    const [from, to] = await Promise.all([node(source), node(target)]);
    try {
      // The slot migrates: its keys move to the target, the slot is not handed over yet. Redis
      // refuses the client's script on both sides (TRYAGAIN: its throttle key exists on neither),
      // the gateway asks again until command_timeout, then on_error decides; no request hangs.
      await to.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids.get(source)!]);
      await from.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids.get(target)!]);
      const keys = (await from.sendCommand([
        'CLUSTER',
        'GETKEYSINSLOT',
        String(slot),
        '100',
      ])) as string[];
      expect(keys).to.include(key);
      await from.sendCommand(
        ['MIGRATE', '127.0.0.1', String(target), '', '0', '5000', 'AUTH', PASSWORD, 'KEYS'].concat(
          keys,
        ),
      );
      const startedMs = performance.now();
      expect(await get(a, ip, '/load/')).to.equal(200);
      expect(await get(b, ip, '/load/')).to.equal(503);
      // Two requests, each within command_timeout (1 s) plus a loaded machine's slack.
      expect(performance.now() - startedMs).to.be.below(2 * 1000 + 3000);

      // The slot is handed over while a request of the deny replica is being refused: asked again
      // after TRYAGAIN, it gets MOVED, follows it and is counted on the target.
      const duringHandover = get(b, ip, '/load/');
      const others = primaries.filter((p) => p !== source && p !== target);
      for (const port of [target, source, ...others]) {
        const client = await node(port);
        try {
          await client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', ids.get(target)!]);
        } finally {
          client.destroy();
        }
      }
      expect(await duringHandover).to.equal(200);
      expect(await get(a, ip, '/load/')).to.equal(200);
      // 3 before, none while migrating (allow let its request through uncounted), 2 after.
      const stored = await to.hGet(key, 'w:');
      expect(Number(stored?.split(':')[1])).to.equal(5);
    } finally {
      from.destroy();
      to.destroy();
    }
  });

  it('survives a primary killed and its replica promoted, and counts on there', async () => {
    const ip = '198.51.100.200';
    const key = `${prefix}{${ip}}:windows`;
    expect(await get(b, ip, '/load/')).to.equal(200);
    await cluster.killPrimaryOf(key);
    const killedAtMs = Date.now();
    // In between, on_error decides: allow lets the request through, deny refuses it; none hangs.
    const during = await Promise.all([get(a, ip, '/load/'), get(b, ip, '/load/')]);
    expect(during[0]).to.equal(200);
    expect([200, 503]).to.include(during[1]);
    await cluster.awaitHealthy();
    await eventually(async () => (await get(b, ip, '/load/')) === 200, {
      what: 'the deny replica counting again',
      withinMs: 30_000,
    });
    console.log(
      `      (the deny replica counted again ${Date.now() - killedAtMs} ms after the kill)`,
    );
    await eventually(async () => (await get(a, ip, '/load/')) === 200 && (await countOf(key)) > 0, {
      what: 'the allow replica counting again',
    });
    const before = await countOf(key);
    for (const gw of [a, b, a, b]) expect(await get(gw, ip, '/load/')).to.equal(200);
    expect(await countOf(key)).to.equal(before + 4);
  });

  /** The client's count in the default window, read through a cluster client of the test. */
  async function countOf(key: string): Promise<number> {
    const live = (await cluster.primaryPorts())[0]!;
    const client = createCluster({
      rootNodes: [{ url: `redis://127.0.0.1:${live}` }],
      defaults: { password: PASSWORD },
      RESP: 2,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      const stored = await client.hGet(key, 'w:');
      return Number(stored?.split(':')[1] ?? 0);
    } finally {
      client.destroy();
    }
  }
});
