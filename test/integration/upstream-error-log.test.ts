// A 502 or 504 is logged with its cause: the request's one log line carries `upstream_error`
// (the error code, never the message with its address), once per request.
import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import { captureLog, startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

/** A port that refuses connections: bound once, then released. */
async function refusedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('upstream faults in the request log', function () {
  this.timeout(15_000);

  it('logs ECONNREFUSED on the 502 of an upstream that refuses connections', async () => {
    const log = captureLog();
    const gw = await startGateway(
      `upstream: { url: "http://127.0.0.1:${await refusedPort()}" }\nlog: { level: info }`,
      { logTo: log },
    );
    try {
      expect((await fetch(`${gw.url}/refused`)).status).to.equal(502);
    } finally {
      await gw.stop();
    }
    const lines = log.lines.filter((line) => line.event === 'request');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({
      status: 502,
      outcome: 'upstream_error',
      upstream_error: 'ECONNREFUSED',
    });
  });

  it('logs UPSTREAM_RESPONSE_TIMEOUT on a 504, and nothing on a request that went well', async () => {
    const upstream = await startUpstream();
    const log = captureLog();
    const gw = await startGateway(
      `upstream: { url: "${upstream.url}", timeout: 1s }\nlog: { level: info }`,
      { logTo: log },
    );
    try {
      expect((await fetch(`${gw.url}/slow`)).status).to.equal(504);
      expect((await fetch(`${gw.url}/fine`)).status).to.equal(200);
    } finally {
      await gw.stop();
      await upstream.close();
    }
    const lines = log.lines.filter((line) => line.event === 'request');
    expect(lines.map((line) => [line.path, line.upstream_error])).to.deep.equal([
      ['/slow', 'UPSTREAM_RESPONSE_TIMEOUT'],
      ['/fine', undefined],
    ]);
  });
});
