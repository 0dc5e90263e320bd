import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureLog, startGateway } from '../helpers/gateway.js';

/** An upstream that keeps every request until the test answers it, by path. */
async function heldUpstream() {
  const held = new Map<string, http.ServerResponse>();
  const server = http.createServer((req, res) => {
    held.set(req.url ?? '/', res);
    server.emit('held', req.url);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async arrived(paths: readonly string[]) {
      while (!paths.every((p) => held.has(p))) await once(server, 'held');
    },
    response: (p: string) => held.get(p)!,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A GET that settles with its status, or with the error that cut it. */
function get(url: string): Promise<number | Error> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', resolve);
      })
      .on('error', resolve);
  });
}

describe('request log lines at drain', function () {
  this.timeout(30_000);

  it('logs every request cut after listen.drain_timeout, with status 0 and cut "drain", before shutdown returns', async () => {
    const upstream = await heldUpstream();
    const log = captureLog();
    const gw = await startGateway(
      `upstream: { url: "${upstream.url}" }\nlisten: { host: 127.0.0.1, port: 0, drain_timeout: 3s }\nlog: { level: info }`,
      { logTo: log },
    );
    try {
      const answered = get(gw.url + '/answered-in-time');
      const silent = get(gw.url + '/never-answered?token=secret');
      const streaming = get(gw.url + '/streaming');
      await upstream.arrived(['/answered-in-time', '/never-answered?token=secret', '/streaming']);
      upstream.response('/streaming').writeHead(200, { 'content-type': 'text/plain' });
      upstream.response('/streaming').write('half of it');

      const stopped = gw.gateway.shutdown();
      upstream.response('/answered-in-time').end('done');
      expect(await answered).to.equal(200);
      await stopped;

      const requests = log.lines.filter((l) => l.event === 'request');
      const byPath = new Map(requests.map((l) => [l.path, l]));
      expect(requests).to.have.length(3);
      expect(byPath.get('/answered-in-time')).to.include({ status: 200, outcome: 'proxied' });
      expect(byPath.get('/answered-in-time')).to.not.have.property('cut');
      for (const path of ['/never-answered', '/streaming']) {
        expect(byPath.get(path), path).to.include({ status: 0, outcome: 'proxied', cut: 'drain' });
        expect(byPath.get(path)!.duration_ms).to.be.at.least(3000);
      }
      expect(await silent).to.be.instanceOf(Error);
      expect(await streaming).to.be.instanceOf(Error);
    } finally {
      await upstream.close();
    }
  });
});
