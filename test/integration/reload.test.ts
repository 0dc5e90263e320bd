import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../gateway/config/load.js';
import { reloadFromFile, watchConfigFile } from '../../gateway/reload.js';
import { createGateway, type Gateway } from '../../gateway/server.js';
import { captureLog } from '../helpers/log-capture.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const configYaml = (upstreamUrl: string, limit: number, extra = '') => `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
upstream: { url: "${upstreamUrl}" }
throttle: { limit: ${limit}, rules: [] }
${extra}`;

/** A directory laid out like a mounted ConfigMap: config.yaml → ..data/config.yaml → ..<version>/. */
function configMapDir(content: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cgw-configmap-'));
  let version = 0;
  const publish = (text: string) => {
    version += 1;
    const versionDir = `..v${version}`;
    mkdirSync(path.join(dir, versionDir));
    writeFileSync(path.join(dir, versionDir, 'config.yaml'), text);
    // kubelet's atomic swap: a new symlink renamed over ..data.
    symlinkSync(versionDir, path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  };
  publish(content);
  symlinkSync('..data/config.yaml', path.join(dir, 'config.yaml'));
  return { file: path.join(dir, 'config.yaml'), publish };
}

describe('live reload', () => {
  let upstream: Upstream;
  let gateway: Gateway;
  let url: string;
  let stopWatching: () => void = () => {};

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  afterEach(async () => {
    stopWatching();
    await gateway.shutdown();
  });

  async function start(file: string) {
    const loaded = loadConfigFile(file);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const captured = captureLog();
    gateway = createGateway({ config: loaded.config, log: captured.log });
    const { publicPort } = await gateway.listen();
    url = `http://127.0.0.1:${publicPort}`;
    return captured;
  }

  /** Starts watching and resolves once the next reload (valid or not) was handled. */
  function watchOnce(file: string, captured: ReturnType<typeof captureLog>): Promise<boolean> {
    return new Promise((resolve) => {
      stopWatching = watchConfigFile(
        file,
        () => resolve(reloadFromFile(file, gateway, captured.log)),
        captured.log,
      );
    });
  }

  const statusOf = async (path: string, ip: string) => {
    const res = await fetch(url + path, { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return res.status;
  };

  it('takes a ConfigMap update (symlink swap) without a restart, and counters survive', async () => {
    const map = configMapDir(configYaml(upstream.url, 5));
    const captured = await start(map.file);
    for (let i = 0; i < 2; i++) expect(await statusOf('/', '203.0.113.40')).to.equal(200);

    const reloaded = watchOnce(map.file, captured);
    map.publish(configYaml(upstream.url, 3));
    expect(await reloaded).to.equal(true);

    expect(gateway.config.throttle.limit).to.equal(3);
    // Two hits from before the reload still count: the third is the last one allowed.
    expect(await statusOf('/', '203.0.113.40')).to.equal(200);
    expect(await statusOf('/', '203.0.113.40')).to.equal(429);
    expect(captured.events('config_reloaded')).to.have.length(1);
    const metrics = await gateway.metrics.registry.getSingleMetricAsString(
      'gateway_config_reloads_total',
    );
    expect(metrics).to.include('gateway_config_reloads_total{result="success"} 1');
  });

  it('refuses an invalid new config, logs every problem, and keeps the running one', async () => {
    const map = configMapDir(configYaml(upstream.url, 2));
    const captured = await start(map.file);
    const reloaded = watchOnce(map.file, captured);
    map.publish('upstream: { url: nowhere }\nthrottle: { limit: -1 }\n');
    expect(await reloaded).to.equal(false);

    expect(gateway.config.throttle.limit).to.equal(2);
    const [failure] = captured.events('config_reload_failed');
    expect(failure?.problems).to.deep.equal([
      'upstream.url: "nowhere" is not an http(s) URL such as http://127.0.0.1:8000',
      'throttle.limit: -1 is not a whole number from 1 to 1000000000',
    ]);
    const metrics = await gateway.metrics.registry.getSingleMetricAsString(
      'gateway_config_reloads_total',
    );
    expect(metrics).to.include('gateway_config_reloads_total{result="failure"} 1');
    expect(await statusOf('/', '203.0.113.41')).to.equal(200);
    expect(await statusOf('/', '203.0.113.41')).to.equal(200);
    expect(await statusOf('/', '203.0.113.41')).to.equal(429);
  });

  it('reloads a plainly rewritten file, keeps keep-alive connections, and names restart-only keys', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgw-reload-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, configYaml(upstream.url, 100));
    const captured = await start(file);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<http.ClientRequest>((resolve, reject) => {
        const req = http.get(url + '/', { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req));
        });
        req.on('error', reject);
      });
    await get();

    const reloaded = watchOnce(file, captured);
    writeFileSync(
      file,
      configYaml(
        upstream.url,
        100,
        'log: { level: warn }\nstore: { type: memory, redis: { prefix: "other:" } }',
      ),
    );
    expect(await reloaded).to.equal(true);

    const again = await get();
    expect(again.reusedSocket).to.equal(true);
    agent.destroy();
    expect(captured.events('config_reloaded')).to.have.length(1);
    expect(captured.events('config_restart_needed')[0]?.keys).to.deep.equal(['store']);
    // The new file's warnings are logged on reload as at start.
    expect(captured.events('store_redis_ignored')).to.have.length(1);
    expect(gateway.config.store.redis.prefix).to.equal('cgw:');
    expect(captured.log.level).to.equal('warn');
  });
});

describe('SIGHUP reload of the captcha-gateway command', () => {
  it('reloads on SIGHUP and keeps serving', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgw-hup-'));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, configYaml('http://127.0.0.1:9', 300));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'gateway/main.ts', '--config', file],
      { cwd: root },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const exited = once(child, 'exit');
    try {
      while (!out.includes('"event":"listening"')) await once(child.stdout, 'data');
      child.kill('SIGHUP');
      while (!out.includes('"event":"config_reloaded"')) await once(child.stdout, 'data');
      const listening = JSON.parse(out.split('\n').find((l) => l.includes('"listening"'))!) as {
        admin_port: number;
      };
      const metrics = await (
        await fetch(`http://127.0.0.1:${listening.admin_port}/metrics`)
      ).text();
      expect(metrics).to.include('gateway_config_reloads_total{result="success"} 1');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
