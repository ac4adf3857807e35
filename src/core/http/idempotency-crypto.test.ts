import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeResponse,
  deriveIdempotencySecrets,
  encodeResponse,
  openResponse,
  sameFingerprint,
  sealResponse,
  type IdempotencyRequest,
} from './idempotency-crypto.js';

const base: IdempotencyRequest = {
  credential: 'authorization=Bearer mola_example',
  key: 'retry-1',
  method: 'POST',
  url: '/org/tokens',
  body: Buffer.from('{"name":"ci"}'),
};
const response = { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from('{"auth_token":"mola_secret"}') };

describe('idempotency crypto', () => {
  it('seals and opens a response, which round-trips byte for byte', () => {
    const secrets = deriveIdempotencySecrets(base);
    const sealed = sealResponse(secrets, encodeResponse(response));
    assert.equal(sealed.includes('mola_secret'), false);
    assert.equal(Buffer.from(sealed, 'base64').includes(Buffer.from('mola_secret')), false);
    const opened = openResponse(secrets, sealed);
    assert.ok(opened);
    assert.deepEqual(decodeResponse(opened), response);
  });

  it('a tampered, truncated or moved row does not open', () => {
    const secrets = deriveIdempotencySecrets(base);
    const sealed = Buffer.from(sealResponse(secrets, encodeResponse(response)), 'base64');
    for (const i of [0, 12, 20, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[i] = (tampered[i] ?? 0) ^ 0x80;
      assert.equal(openResponse(secrets, tampered.toString('base64')), null, `byte ${i} flipped`);
    }
    assert.equal(openResponse(secrets, sealed.subarray(0, 20).toString('base64')), null);
    assert.equal(openResponse(secrets, ''), null);
    // Another row's id (the associated data) with the same key: refused.
    assert.equal(openResponse({ ...secrets, id: deriveIdempotencySecrets({ ...base, url: '/workspaces' }).id }, sealed.toString('base64')), null);
  });

  it('only the presenting credential and the key open it', () => {
    const secrets = deriveIdempotencySecrets(base);
    const sealed = sealResponse(secrets, encodeResponse(response));
    const otherCredential = deriveIdempotencySecrets({ ...base, credential: 'authorization=Bearer mola_other' });
    const otherKey = deriveIdempotencySecrets({ ...base, key: 'retry-2' });
    assert.notEqual(otherCredential.id, secrets.id);
    assert.notEqual(otherKey.id, secrets.id);
    assert.equal(openResponse({ id: secrets.id, encKey: otherCredential.encKey }, sealed), null);
    assert.equal(openResponse({ id: secrets.id, encKey: otherKey.encKey }, sealed), null);
  });

  it('the row id names scope, method, URL and key but not the body; the fingerprint covers the body', () => {
    const a = deriveIdempotencySecrets(base);
    const b = deriveIdempotencySecrets({ ...base, body: Buffer.from('{"name":"other"}') });
    assert.equal(a.id, b.id);
    assert.equal(sameFingerprint(a.fingerprint, b.fingerprint), false);
    assert.equal(sameFingerprint(a.fingerprint, deriveIdempotencySecrets(base).fingerprint), true);
    assert.match(a.id, /^[0-9a-f]{64}$/);
    assert.notEqual(deriveIdempotencySecrets({ ...base, method: 'PUT' }).id, a.id);
    assert.notEqual(deriveIdempotencySecrets({ ...base, credential: null }).id, a.id);
  });

  it('anonymous: the body is the secret, so another body neither matches nor opens', () => {
    const anon = { ...base, credential: null };
    const a = deriveIdempotencySecrets(anon);
    const b = deriveIdempotencySecrets({ ...anon, body: Buffer.from('{"name":"guess"}') });
    assert.equal(a.id, b.id);
    assert.equal(sameFingerprint(a.fingerprint, b.fingerprint), false);
    const sealed = sealResponse(a, encodeResponse(response));
    assert.equal(openResponse(b, sealed), null);
    assert.ok(openResponse(a, sealed));
  });

  it('decodeResponse refuses malformed plaintext', () => {
    assert.equal(decodeResponse(Buffer.alloc(0)), null);
    assert.equal(decodeResponse(Buffer.from('garbage')), null);
    const good = encodeResponse(response);
    assert.equal(decodeResponse(good.subarray(0, good.length - 1)), null);
  });

  it('sameFingerprint refuses empty and unequal lengths', () => {
    assert.equal(sameFingerprint('', ''), false);
    assert.equal(sameFingerprint('ab', 'abcd'), false);
  });
});
