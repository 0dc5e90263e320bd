import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

describe('admin port', () => {
  let gw: RunningGateway;
  afterEach(async () => {
    await gw.stop();
  });

  it('answers /healthz and /readyz with 200 while running', async () => {
    gw = await startGateway('upstream: { url: "http://127.0.0.1:9" }');
    expect((await fetch(gw.adminUrl + '/healthz')).status).to.equal(200);
    expect((await fetch(gw.adminUrl + '/readyz')).status).to.equal(200);
  });

  it('serves Prometheus metrics that count requests by outcome', async () => {
    gw = await startGateway('upstream: { url: "http://127.0.0.1:9" }');
    await (await fetch(gw.url + '/users/captcha/')).arrayBuffer();
    const res = await fetch(gw.adminUrl + '/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await res.text();
    expect(text).to.match(/^gateway_requests_total\{outcome="captcha_page"\} 1$/m);
    expect(text).to.include('# TYPE gateway_request_duration_seconds histogram');
    expect(text).to.include('process_cpu_user_seconds_total');
  });

  it('answers /admin/* 404 when no admin token is configured', async () => {
    gw = await startGateway('upstream: { url: "http://127.0.0.1:9" }');
    const res = await fetch(gw.adminUrl + '/admin/throttled', {
      headers: { authorization: 'Bearer anything' },
    });
    expect(res.status).to.equal(404);
  });

  it('answers /admin/* 401 without the right bearer token', async () => {
    gw = await startGateway(
      'upstream: { url: "http://127.0.0.1:9" }\nadmin: { host: 127.0.0.1, port: 0, token: t0ken }',
    );
    const none = await fetch(gw.adminUrl + '/admin/throttled');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    const wrong = await fetch(gw.adminUrl + '/admin/throttled', {
      headers: { authorization: 'Bearer t0ke' },
    });
    expect(wrong.status).to.equal(401);
    const right = await fetch(gw.adminUrl + '/admin/throttled', {
      headers: { authorization: 'Bearer t0ken' },
    });
    expect(right.status).to.not.equal(401);
  });

  it('does not serve the admin endpoints on the public port', async () => {
    gw = await startGateway(
      'upstream: { url: "http://127.0.0.1:9" }\nthrottle: { exempt: { clients: [loopback] } }',
    );
    const res = await fetch(gw.url + '/metrics');
    // Proxied to the (unreachable) upstream, not answered by the admin app.
    expect(res.status).to.equal(502);
  });
});
