import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayUserCode, hashUserCode, newDeviceCode, newUserCode, normalizeUserCode, USER_CODE_ALPHABET } from './codes.js';

describe('device authorization codes', () => {
  it('user codes are 8 letters of the 20-consonant alphabet, dashed in the middle, and use every letter', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const code = newUserCode();
      assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      for (const c of code.replace('-', '')) seen.add(c);
    }
    assert.equal(seen.size, USER_CODE_ALPHABET.length);
  });

  it('typed codes normalize (case, a dash or a space, surrounding blanks); anything else is no code', () => {
    for (const typed of ['BCDF-GHJK', 'bcdf-ghjk', 'bcdf ghjk', 'BCDFGHJK', '  bcdf-GHJK ']) assert.equal(normalizeUserCode(typed), 'BCDFGHJK', typed);
    for (const typed of ['AEIO-UBCD', 'BCDF-GHJ', 'BCDF--GHJK', 'BCDF-GHJK1', '', 'BCDF_GHJK']) assert.equal(normalizeUserCode(typed), null, typed);
    assert.equal(displayUserCode('BCDFGHJK'), 'BCDF-GHJK');
    assert.equal(hashUserCode('BCDFGHJK'), hashUserCode(normalizeUserCode('bcdf ghjk') ?? ''));
  });

  it('device codes are 32 random bytes, base64url', () => {
    const a = newDeviceCode();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(newDeviceCode(), a);
  });
});
