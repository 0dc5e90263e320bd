// Checks how upstream.url becomes the proxy's target and the upstream path of each request.
import { expect } from 'chai';
import { parseUpstreamTarget, upstreamPath } from '../../../gateway/proxy/target.js';

describe('parseUpstreamTarget', () => {
  it('fills in the default port and keeps the Host form of the URL', () => {
    expect(parseUpstreamTarget('http://backend')).to.deep.equal({
      proxyTarget: { protocol: 'http:', host: 'backend', hostname: 'backend', port: 80 },
      tls: false,
      basePath: '',
    });
    expect(parseUpstreamTarget('https://backend:8443/').proxyTarget).to.deep.equal({
      protocol: 'https:',
      host: 'backend:8443',
      hostname: 'backend',
      port: 8443,
    });
  });

  it('connects to an IPv6 literal without its brackets', () => {
    const { proxyTarget } = parseUpstreamTarget('http://[::1]:8000');
    expect(proxyTarget.hostname).to.equal('::1');
    expect(proxyTarget.host).to.equal('[::1]:8000');
  });

  it('takes the path of the URL, without its trailing slash, as the base path', () => {
    expect(parseUpstreamTarget('http://backend/shop/').basePath).to.equal('/shop');
    expect(parseUpstreamTarget('http://backend/shop').basePath).to.equal('/shop');
  });
});

describe('upstreamPath', () => {
  it('puts the base path before the request target, untouched', () => {
    expect(upstreamPath('/shop', '/a//b?x=/y')).to.equal('/shop/a//b?x=/y');
    expect(upstreamPath('', '/a//b\\c')).to.equal('/a//b\\c');
  });

  it('leaves a target that is not a path as it is', () => {
    expect(upstreamPath('/shop', '*')).to.equal('*');
  });
});
