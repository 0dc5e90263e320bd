// Checks that CSRF tokens round-trip and are refused when forged, expired or foreign, and that
// verify survives any input an attacker can send.
import { expect } from 'chai';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { CSRF_TOKEN_LENGTH, createCsrfTokens } from '../../../gateway/csrf/tokens.js';
import { createSigningKey } from '../../../gateway/signing-key.js';

const TTL_MS = 10 * 60 * 1000;
const CLIENT = '203.0.113.7';

function tokensAt(start: number, secret = 'shared-secret') {
  const clock = { now: start };
  const tokens = createCsrfTokens({
    key: Buffer.from(secret),
    ttlMs: TTL_MS,
    now: () => clock.now,
  });
  return { tokens, clock };
}

describe('createCsrfTokens', () => {
  it('verifies a token it issued to the same client', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    expect(tokens.verify(tokens.issue(CLIENT), CLIENT)).to.equal(true);
  });

  it('issues tokens of [A-Za-z0-9] only, so the storefront can extract them with \\w+', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const token = tokens.issue('2001:db8::/64');
    expect(token).to.match(/^[A-Za-z0-9]+$/);
    expect(token).to.have.length(CSRF_TOKEN_LENGTH);
  });

  it('issues a different token each time (random nonce), across refills of the nonce pool', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const issued = new Set(Array.from({ length: 1000 }, () => tokens.issue(CLIENT)));
    expect(issued.size).to.equal(1000);
    for (const token of issued) expect(tokens.verify(token, CLIENT)).to.equal(true);
  });

  it('keeps its layout: expiry, nonce, then HMAC-SHA256 over purpose, both and the client', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const token = tokens.issue(CLIENT);
    const head = token.slice(0, 44);
    const mac = createHmac('sha256', 'shared-secret')
      .update('captcha-gateway/csrf/v1')
      .update(head)
      .update(CLIENT)
      .digest('hex');
    expect(token).to.equal(head + mac);
    expect(Number.parseInt(token.slice(0, 12), 16)).to.equal(1_700_000_000_000 + TTL_MS);
  });

  it('lets another replica with the same secret verify the token', () => {
    const a = tokensAt(1_700_000_000_000).tokens;
    const b = tokensAt(1_700_000_000_000).tokens;
    expect(b.verify(a.issue(CLIENT), CLIENT)).to.equal(true);
  });

  it('refuses a token made with another secret', () => {
    const a = tokensAt(1_700_000_000_000, 'secret-a').tokens;
    const b = tokensAt(1_700_000_000_000, 'secret-b').tokens;
    expect(b.verify(a.issue(CLIENT), CLIENT)).to.equal(false);
  });

  it('refuses a token issued to another client', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    expect(tokens.verify(tokens.issue('203.0.113.8'), CLIENT)).to.equal(false);
  });

  it('refuses a token whose expiry was pushed forward (MAC no longer matches)', () => {
    const { tokens, clock } = tokensAt(1_700_000_000_000);
    const token = tokens.issue(CLIENT);
    const later = (Number.parseInt(token.slice(0, 12), 16) + 3_600_000)
      .toString(16)
      .padStart(12, '0');
    clock.now += TTL_MS + 1;
    expect(tokens.verify(later + token.slice(12), CLIENT)).to.equal(false);
  });

  it('refuses a token with one MAC character changed', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const token = tokens.issue(CLIENT);
    const last = token.at(-1) === '0' ? '1' : '0';
    expect(tokens.verify(token.slice(0, -1) + last, CLIENT)).to.equal(false);
  });

  it('accepts a token until its ttl runs out, then refuses it', () => {
    const { tokens, clock } = tokensAt(1_700_000_000_000);
    const token = tokens.issue(CLIENT);
    clock.now += TTL_MS - 1;
    expect(tokens.verify(token, CLIENT)).to.equal(true);
    clock.now += 1;
    expect(tokens.verify(token, CLIENT)).to.equal(false);
  });

  it('refuses an upper-cased copy of a valid token (only our own alphabet)', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const token = tokens.issue(CLIENT);
    expect(tokens.verify(token.toUpperCase(), CLIENT)).to.equal(token === token.toUpperCase());
  });

  it('signs with one random key per process when the secret is empty, and only then', () => {
    const signingKey = createSigningKey();
    const a = createCsrfTokens({ key: signingKey(''), ttlMs: TTL_MS, now: () => 0 });
    const again = createCsrfTokens({ key: signingKey(''), ttlMs: TTL_MS, now: () => 0 });
    const otherProcess = createCsrfTokens({
      key: createSigningKey()(''),
      ttlMs: TTL_MS,
      now: () => 0,
    });
    expect(again.verify(a.issue(CLIENT), CLIENT)).to.equal(true);
    expect(otherProcess.verify(a.issue(CLIENT), CLIENT)).to.equal(false);
    expect(signingKey('shared-secret')).to.deep.equal(Buffer.from('shared-secret'));
  });

  it('returns false, never throws, for hostile inputs', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    const valid = tokens.issue(CLIENT);
    const hostile: unknown[] = [
      undefined,
      null,
      0,
      NaN,
      {},
      [valid],
      [valid, valid],
      { toString: () => valid },
      '',
      'x'.repeat(1_000_000),
      valid + '0',
      valid.slice(1),
      valid.slice(0, -1) + '\0',
      '\0'.repeat(CSRF_TOKEN_LENGTH),
      'ü'.repeat(CSRF_TOKEN_LENGTH),
      'g'.repeat(CSRF_TOKEN_LENGTH),
      Buffer.from(valid),
    ];
    for (const input of hostile) expect(tokens.verify(input, CLIENT)).to.equal(false);
  });

  it('never throws and never accepts arbitrary input (property)', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.stringMatching(/^[0-9a-f]{108}$/),
        ),
        fc.string(),
        (input, clientKey) => tokens.verify(input, clientKey) === false,
      ),
      { numRuns: 2000 },
    );
  });

  it('always verifies its own tokens, whatever the client key (property)', () => {
    const { tokens } = tokensAt(1_700_000_000_000);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (clientKey) => {
        const token = tokens.issue(clientKey);
        return /^[A-Za-z0-9]+$/.test(token) && tokens.verify(token, clientKey);
      }),
    );
  });
});
