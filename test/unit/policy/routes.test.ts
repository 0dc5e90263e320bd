import { expect } from 'chai';
import ipaddr from 'ipaddr.js';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import { parseConfig } from '../../../gateway/config/load.js';
import { compileRoutes, type Route } from '../../../gateway/policy/routes.js';

const result = parseConfig(
  `
upstream: { url: "http://127.0.0.1:8000" }
throttle:
  exempt: { paths: [/static/], clients: [192.0.2.0/24] }
  rules:
    - { name: login, path: /users/login/, methods: [POST], limit: 10, window: 60s }
    - { name: search, path: /search/, limit: 30, window: 60s }
`,
  {},
);
if (!result.ok) throw new Error(result.problems.join('\n'));
const config = result.config;
const classify = compileRoutes(config, new AddressSet(config.throttle.exempt.clients));
const client = ipaddr.parse('203.0.113.9');
const ids = (route: Route) =>
  route.kind === 'counted' ? route.limits.map((l) => l.id) : route.kind;

describe('compileRoutes', () => {
  it('classifies the captcha paths, with or without their trailing slash', () => {
    expect(classify('GET', '/users/captcha/', client).kind).to.equal('captcha');
    expect(classify('POST', '/users/pz-captcha/?next=/x', client).kind).to.equal('captcha');
    expect(classify('GET', '/users/captcha', client).kind).to.equal('captcha');
  });

  it('does not treat a dot-segment escape from a captcha path as captcha', () => {
    expect(classify('GET', '/users/captcha/../../api/orders/', client).kind).to.equal('counted');
  });

  it('does not treat an encoded escape from an exempt path as exempt', () => {
    expect(classify('GET', '/static/%2e%2e/api/', client).kind).to.equal('counted');
    expect(classify('GET', '/static/..%2fapi/', client).kind).to.equal('counted');
    expect(classify('GET', '/static/app.js', client).kind).to.equal('exempt');
  });

  it('exempts the configured client ranges', () => {
    expect(classify('GET', '/api/', ipaddr.parse('192.0.2.77')).kind).to.equal('exempt');
  });

  it('matches rules on the normalised path, case-insensitively', () => {
    expect(ids(classify('POST', '/users/login/', client))).to.deep.equal(['', 'login']);
    expect(ids(classify('POST', '/USERS//login/', client))).to.deep.equal(['', 'login']);
    expect(ids(classify('POST', '/users/%6cogin/', client))).to.deep.equal(['', 'login']);
    expect(ids(classify('POST', '/users/x/../login/', client))).to.deep.equal(['', 'login']);
  });

  it('applies a method-specific rule only to its methods', () => {
    expect(ids(classify('GET', '/users/login/', client))).to.deep.equal(['']);
    expect(ids(classify('GET', '/search/?q=shoes', client))).to.deep.equal(['', 'search']);
  });
});
