import { expect } from 'chai';
import { cookieValues, grantCookie } from '../../../gateway/clearance/cookie.js';
import { createClearanceReader } from '../../../gateway/clearance/reader.js';
import { createClearanceTokens } from '../../../gateway/clearance/tokens.js';

describe('clearance tokens', () => {
  const clock = { now: 1_800_000_000_000 };
  const key = Buffer.from('k'.repeat(32));
  const tokens = createClearanceTokens({ key, ttlMs: 30 * 60_000, now: () => clock.now });

  it('checks what it granted, until it expires', () => {
    const { clearance, value } = tokens.grant();
    expect(clearance.id).to.match(/^[0-9a-f]{32}$/);
    expect(tokens.check(value)).to.deep.equal(clearance);
    clock.now = clearance.expiresMs;
    expect(tokens.check(value)).to.equal(undefined);
    clock.now = 1_800_000_000_000;
  });

  it('gives every grant a new id', () => {
    expect(tokens.grant().clearance.id).not.to.equal(tokens.grant().clearance.id);
  });

  it('writes only characters that survive a relay joining cookies with ", "', () => {
    expect(tokens.grant().value).to.match(/^[A-Za-z0-9._-]+$/);
  });

  it('refuses a value signed with another key, or by the CSRF purpose', () => {
    const other = createClearanceTokens({
      key: Buffer.from('x'.repeat(32)),
      ttlMs: 60_000,
      now: () => clock.now,
    });
    expect(tokens.check(other.grant().value)).to.equal(undefined);
  });

  it('never throws on hostile input', () => {
    for (const bad of [
      '',
      '.',
      '..',
      'a'.repeat(10_000),
      '\u0000',
      `${'0'.repeat(32)}.zzzzzzzzzz.${'A'.repeat(43)}`,
    ]) {
      expect(tokens.check(bad)).to.equal(undefined);
    }
  });

  it('finds the valid one among several cookies of the same name', () => {
    const { clearance, value } = tokens.grant();
    const read = createClearanceReader(tokens, 'cgw_clearance');
    expect(read(`cgw_clearance=forged; x=1; cgw_clearance="${value}"`)).to.deep.equal(clearance);
    expect(read('x=1')).to.equal(undefined);
    expect(read(undefined)).to.equal(undefined);
    expect(createClearanceReader(undefined, 'cgw_clearance')(`cgw_clearance=${value}`)).to.equal(
      undefined,
    );
  });
});

describe('clearance cookie', () => {
  it('reads values by exact name only', () => {
    expect(cookieValues('a_cgw=1; cgw=2;cgw = 3', 'cgw')).to.deep.equal(['2', '3']);
  });

  it('writes Max-Age and Path=/, never Expires', () => {
    expect(grantCookie('v', { name: 'c', maxAgeS: 60, domain: '', secure: false })).to.equal(
      'c=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
    );
    expect(
      grantCookie('v', { name: 'c', maxAgeS: 60, domain: 'shop.example', secure: true }),
    ).to.equal('c=v; Path=/; Max-Age=60; Domain=shop.example; HttpOnly; SameSite=Lax; Secure');
  });
});
