// Two gateway replicas on a real Redis Sentinel setup (one primary, two replicas, three
// sentinels, passwords on the data nodes and on the sentinels): they find the primary through the
// sentinels, count one client together, and follow a failover by themselves while on_error decides
// what happens in between.
import { expect } from 'chai';
import { captureLog, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { eventually, inspector, needRedisServer, randomPrefix } from '../helpers/redis-server.js';
import { MASTER_NAME, startSentinelSetup, type SentinelSetup } from '../helpers/redis-sentinel.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const COMMAND_TIMEOUT_MS = 1000;
const DATA_PASSWORD = 'data-nodes-secret';
const SENTINEL_PASSWORD = 'sentinels-secret';
/** "No hang": a request settles within the command timeout plus a loaded machine's slack. */
const NO_HANG_MS = COMMAND_TIMEOUT_MS + 2_000;

describe('Redis Sentinel: two replicas through a failover', function () {
  this.timeout(120_000);
  let setup: SentinelSetup;
  let upstream: Upstream;
  let prefix: string;
  let allow: RunningGateway;
  let deny: RunningGateway;
  const denyLog = captureLog();

  before(async function () {
    await needRedisServer(this);
    [setup, upstream] = await Promise.all([
      startSentinelSetup({ password: DATA_PASSWORD, sentinelPassword: SENTINEL_PASSWORD }),
      startUpstream(),
    ]);
    prefix = randomPrefix();
    const yaml = (onError: string) => `
upstream: { url: "${upstream.url}" }
throttle: { limit: 1000000, window: 1h, rules: [{ name: few, path: /few/, limit: 4, window: 1h }] }
log: { level: info }
store:
  type: redis
  redis:
    mode: sentinel
    prefix: "${prefix}"
    on_error: ${onError}
    command_timeout: ${COMMAND_TIMEOUT_MS}ms
    connect_timeout: 500ms
    sentinel:
      master_name: ${MASTER_NAME}
      password: ${DATA_PASSWORD}
      sentinel_password: ${SENTINEL_PASSWORD}
      nodes: [${setup.sentinels.map((s) => `"${s.host}:${s.port}"`).join(', ')}]
`;
    allow = await startGateway(yaml('allow'), { logTo: captureLog() });
    deny = await startGateway(yaml('deny'), { logTo: denyLog });
    // Connected once the sentinels have named the primary and it answers.
    for (const gw of [allow, deny]) {
      await eventually(() => gw.gateway.store.ping().then(() => true), { what: 'the store' });
    }
  });
  after(async () => {
    await Promise.all([allow?.stop(), deny?.stop()]);
    await upstream?.close();
    await setup?.close();
  });

  async function get(gw: RunningGateway, ip: string, path = '/api/'): Promise<number> {
    const res = await fetch(gw.url + path, { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return res.status;
  }

  /** The client's count in the rule's window, as the node on `port` holds it. */
  async function countOn(port: number, ip: string, field = 'w:'): Promise<number> {
    const client = await inspector(`redis://:${DATA_PASSWORD}@127.0.0.1:${port}`);
    try {
      const stored = await client.hGet(`${prefix}{${ip}}:windows`, field);
      return Number(stored?.split(':')[1] ?? 0);
    } finally {
      client.destroy();
    }
  }

  it('counts a client across replicas on the primary the sentinels name', async () => {
    const ip = '203.0.113.20';
    const statuses = [];
    for (const gw of [allow, deny, allow, deny, allow]) statuses.push(await get(gw, ip, '/few/'));
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429]);
    expect(await countOn(await setup.primaryPort(), ip, 'w:few')).to.equal(5);
  });

  it('follows a SIGKILLed primary to the promoted replica: no crash, no hang, counts go on', async () => {
    const ip = '203.0.113.21';
    const results: { gw: 'allow' | 'deny'; status: number; ms: number; atMs: number }[] = [];
    let running = true;
    const loop = async (name: 'allow' | 'deny') => {
      const gw = name === 'allow' ? allow : deny;
      while (running) {
        const start = performance.now();
        const status = await get(gw, ip, '/load/');
        results.push({ gw: name, status, ms: performance.now() - start, atMs: Date.now() });
      }
    };
    const loops = [loop('allow'), loop('allow'), loop('deny'), loop('deny')];
    try {
      await eventually(async () => results.length >= 40, { what: 'load before the kill' });
      const killedAtMs = Date.now();
      const oldPort = await setup.killPrimary();
      const newPort = await setup.awaitNewPrimary(oldPort);
      const promotedAtMs = Date.now();
      // The deny replica answers from Redis again: both replicas have followed.
      await eventually(
        async () =>
          results.filter((r) => r.gw === 'deny' && r.atMs > promotedAtMs && r.status === 200)
            .length >= 20,
        { what: 'the gateways following the new primary', withinMs: 30_000 },
      );
      running = false;
      await Promise.all(loops);

      const denied = results.filter((r) => r.status === 503);
      const firstDeniedMs = Math.min(...denied.map((r) => r.atMs));
      const lastDeniedMs = Math.max(...denied.map((r) => r.atMs));
      console.log(
        `      (primary killed; sentinels promoted ${newPort} after ${promotedAtMs - killedAtMs} ms; ` +
          `requests on on_error for ${lastDeniedMs - firstDeniedMs} ms, ${denied.length} of ${results.length})`,
      );
      // on_error decided in between: allow let everything through, deny refused some.
      expect(results.filter((r) => r.gw === 'allow').every((r) => r.status === 200)).to.equal(true);
      expect(denied.length).to.be.greaterThan(0);
      expect(denied.every((r) => r.gw === 'deny')).to.equal(true);
      expect(Math.max(...results.map((r) => r.ms))).to.be.below(NO_HANG_MS);
      // Logged once for the outage, with its end.
      const events = denyLog.lines
        .filter((line) => Date.parse(String(line.time)) >= killedAtMs)
        .map((line) => line.event);
      expect(events.filter((e) => e === 'store_unavailable')).to.have.length(1);
      expect(events.filter((e) => e === 'store_recovered')).to.have.length(1);

      // Counts go on, exactly, on the new primary, from both replicas.
      const before = await countOn(newPort, ip);
      expect(before).to.be.greaterThan(0);
      for (const gw of [allow, deny, allow, deny, allow, deny]) {
        expect(await get(gw, ip, '/load/')).to.equal(200);
      }
      expect(await countOn(newPort, ip)).to.equal(before + 6);
    } finally {
      running = false;
      await Promise.all(loops);
    }
  });
});
