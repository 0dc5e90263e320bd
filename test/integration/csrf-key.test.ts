// With csrf.secret empty the gateway signs with a random key of its own: made once for the life of
// the process, so a reload never invalidates the captcha forms open in customers' browsers.
import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('the CSRF key of a gateway without csrf.secret', () => {
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
    siteverify = await startSiteverify();
    gw = await startGateway(`
upstream: { url: "${upstream.url}" }
captcha: { site_key: site-key, secret: the-secret, verify_url: "${siteverify.url}" }
csrf: { secret: "" }
`);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
    await siteverify.close();
  });

  const client = { 'x-forwarded-for': '203.0.113.70' };

  async function formToken(): Promise<string> {
    const page = await fetch(`${gw.url}/users/captcha/`, { headers: client });
    const { html } = (await page.json()) as { html: string };
    return /value='(\w+)'/.exec(html)![1]!;
  }

  function submit(token: string): Promise<Response> {
    return fetch(`${gw.url}/users/captcha/`, {
      method: 'POST',
      headers: {
        ...client,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token,
        'x-requested-with': 'XMLHttpRequest',
        accept: 'application/json',
      },
      body: 'g-recaptcha-response=pass-1',
      redirect: 'manual',
    });
  }

  it('keeps the CSRF key across a reload when csrf.secret is empty', async () => {
    const token = await formToken();
    gw.gateway.reload(gw.config);
    gw.gateway.reload(gw.config);
    const answer = await submit(token);
    expect(answer.status).to.equal(200);
    expect(await answer.json()).to.deep.equal({ location: '/' });
    expect(siteverify.calls).to.have.length(1);
  });
});
