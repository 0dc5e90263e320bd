// A gateway on a Redis that dies, freezes, or is not there yet: it keeps serving by
// store.redis.on_error, never holds a request past the command timeout, logs each outage once,
// and counts again once Redis is back. Each test runs a redis-server of its own.
import { expect } from 'chai';
import { captureLog, startGateway, type RunningGateway } from '../helpers/gateway.js';
import {
  freePort,
  inspector,
  needRedisServer,
  startRedisServer,
  type RedisServer,
} from '../helpers/redis-server.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const COMMAND_TIMEOUT_MS = 200;
/** Generous: proves "no hang" without depending on timer precision on a busy machine. */
const NO_HANG_MS = COMMAND_TIMEOUT_MS + 800;

describe('a gateway whose Redis fails', function () {
  let upstream: Upstream;
  let redis: RedisServer | undefined;
  let gw: RunningGateway | undefined;
  let log: ReturnType<typeof captureLog>;

  before(async function () {
    await needRedisServer(this);
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream?.close();
  });
  beforeEach(() => {
    log = captureLog();
  });
  afterEach(async () => {
    await gw?.stop();
    await redis?.close();
    gw = redis = undefined;
  });

  function start(url: string, onError: 'allow' | 'deny'): Promise<RunningGateway> {
    return startGateway(
      `
upstream: { url: "${upstream.url}" }
throttle: { limit: 3, window: 60s, rules: [] }
store:
  type: redis
  redis: { url: "${url}", on_error: ${onError}, command_timeout: ${COMMAND_TIMEOUT_MS}ms, connect_timeout: 500ms }
log: { level: info }
`,
      { logTo: log },
    );
  }

  /** The status of one request and how long it took. */
  async function timedGet(
    url: string,
    ip = '198.51.100.1',
  ): Promise<{ status: number; ms: number }> {
    const startMs = performance.now();
    const res = await fetch(url, { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - startMs };
  }

  async function statuses(url: string, ip: string, count: number): Promise<number[]> {
    const answers = [];
    for (let i = 0; i < count; i++) answers.push((await timedGet(url, ip)).status);
    return answers;
  }

  /** Polls until the store answers again ("Redis is back" has no event to await). */
  async function storeAnswers(gateway: RunningGateway, withinMs = 8000): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        return await gateway.gateway.store.ping();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  function events(name: string): unknown[] {
    return log.lines.filter((line) => line.event === name);
  }

  it('with on_error allow: proxies while Redis is dead, logs the outage once, counts again after', async () => {
    redis = await startRedisServer();
    gw = await start(redis.url, 'allow');
    expect(await statuses(gw.url, '198.51.100.2', 2)).to.deep.equal([200, 200]);

    await redis.kill();
    const during = await Promise.all(
      Array.from({ length: 20 }, () => timedGet(gw!.url + '/during/', '198.51.100.2')),
    );
    for (const { status, ms } of during) {
      expect(status).to.equal(200);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    expect((await timedGet(gw.adminUrl + '/readyz')).status).to.equal(200);

    await redis.restart();
    await storeAnswers(gw);
    // The restarted Redis is empty: the client starts from zero, and limit+1 is caught again.
    expect(await statuses(gw.url, '198.51.100.2', 4)).to.deep.equal([200, 200, 200, 429]);
    expect(events('store_unavailable')).to.have.length(1);
    expect(events('store_recovered')).to.have.length(1);
  });

  it('with on_error deny: answers 503 and /readyz 503 while Redis is dead, then recovers', async () => {
    redis = await startRedisServer();
    gw = await start(redis.url, 'deny');
    expect((await timedGet(gw.adminUrl + '/readyz')).status).to.equal(200);

    await redis.kill();
    const during = await Promise.all(
      Array.from({ length: 20 }, () => timedGet(gw!.url + '/during-deny/', '198.51.100.3')),
    );
    for (const { status, ms } of during) {
      expect(status).to.equal(503);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    expect(upstream.requests.some((r) => r.url === '/during-deny/')).to.equal(false);
    const readyz = await timedGet(gw.adminUrl + '/readyz');
    expect(readyz.status).to.equal(503);
    expect(readyz.ms).to.be.below(NO_HANG_MS);

    await redis.restart();
    await storeAnswers(gw);
    expect((await timedGet(gw.adminUrl + '/readyz')).status).to.equal(200);
    expect(await statuses(gw.url, '198.51.100.3', 4)).to.deep.equal([200, 200, 200, 429]);
    expect(events('store_unavailable')).to.have.length(1);
    expect(events('store_recovered')).to.have.length(1);
  });

  it('starts without Redis, serves by on_error, and connects once Redis is there', async () => {
    const port = await freePort();
    gw = await start(`redis://127.0.0.1:${port}`, 'deny');
    const first = await timedGet(gw.url);
    expect(first.status).to.equal(503);
    expect(first.ms).to.be.below(NO_HANG_MS);
    expect((await timedGet(gw.adminUrl + '/readyz')).status).to.equal(503);

    redis = await startRedisServer({ port });
    await storeAnswers(gw);
    expect(await statuses(gw.url, '198.51.100.4', 4)).to.deep.equal([200, 200, 200, 429]);
  });

  it('never holds a request past the command timeout while Redis is frozen', async () => {
    redis = await startRedisServer();
    gw = await start(redis.url, 'allow');
    expect((await timedGet(gw.url)).status).to.equal(200);

    redis.freeze();
    const during = await Promise.all(
      Array.from({ length: 20 }, () => timedGet(gw!.url, '198.51.100.5')),
    );
    for (const { status, ms } of during) {
      expect(status).to.equal(200);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    redis.thaw();
    await storeAnswers(gw);
    expect(events('store_unavailable')).to.have.length(1);
    expect(events('store_recovered')).to.have.length(1);
  });

  it('makes one round trip to Redis per counted request', async () => {
    redis = await startRedisServer();
    gw = await start(redis.url, 'allow');
    await timedGet(gw.url); // loads the script (EVALSHA, NOSCRIPT, EVAL) once
    // MONITOR shows every command a client sends (commands a script runs are marked "lua").
    const watcher = await inspector(redis.url);
    const marker = await inspector(redis.url);
    const sent: string[] = [];
    let markerSeen = () => {};
    const seen = new Promise<void>((resolve) => (markerSeen = resolve));
    try {
      await watcher.monitor((line) => {
        if (/"echo" "end-of-test"/i.test(line)) markerSeen();
        else if (!line.includes(' lua] ')) sent.push(line);
      });
      for (let i = 0; i < 10; i++) await timedGet(gw.url, `198.51.100.${100 + i}`);
      await marker.echo('end-of-test');
      await seen;
      expect(sent).to.have.length(10);
      for (const line of sent) expect(line).to.match(/"evalsha"/i);
    } finally {
      watcher.destroy();
      marker.destroy();
    }
  });
});
