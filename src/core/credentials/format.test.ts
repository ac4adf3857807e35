import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { claimedType, CREDENTIAL_TYPES, crc32, hashCredential, isWellFormed, mintCredential, type CredentialType } from './format.js';

const TYPES = Object.keys(CREDENTIAL_TYPES) as CredentialType[];
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('credential format', () => {
  it('mints the documented shape for every class', () => {
    for (const type of TYPES) {
      const { prefix, displayLength } = CREDENTIAL_TYPES[type];
      const m = mintCredential(type);
      assert.ok(m.plaintext.startsWith(prefix), `${type} starts with ${prefix}`);
      assert.equal(m.plaintext.length, prefix.length + 43 + 6);
      assert.match(m.plaintext.slice(prefix.length), /^[0-9A-Za-z]{49}$/);
      assert.equal(m.displayPrefix, m.plaintext.slice(0, displayLength));
      assert.equal(m.hash, hashCredential(m.plaintext));
      assert.match(m.hash, /^[0-9a-f]{64}$/);
      assert.equal(isWellFormed(type, m.plaintext), true);
      assert.equal(claimedType(m.plaintext), type);
    }
  });

  it('org keys have a 13-character display prefix: mola_ plus 8', () => {
    const m = mintCredential('orgKey');
    assert.equal(m.displayPrefix.length, 13);
    assert.match(m.displayPrefix, /^mola_[0-9A-Za-z]{8}$/);
  });

  it('crc32 matches the IEEE reference value', () => {
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32(''), 0);
  });

  it('rejects any single-character change (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TYPES),
        fc.nat(),
        fc.constantFrom(...BASE62.split(''), '_', '-', ' ', 'é'),
        (type, pos, replacement) => {
          const key = mintCredential(type).plaintext;
          const i = pos % key.length;
          fc.pre(key[i] !== replacement);
          const mutated = key.slice(0, i) + replacement + key.slice(i + 1);
          return isWellFormed(type, mutated) === false;
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('rejects truncation, extension and a swapped class prefix', () => {
    const key = mintCredential('orgKey').plaintext;
    assert.equal(isWellFormed('orgKey', key.slice(0, -1)), false);
    assert.equal(isWellFormed('orgKey', key + 'a'), false);
    assert.equal(isWellFormed('workspaceToken', 'molw_' + key.slice(5)), false);
    assert.equal(isWellFormed('orgKey', ''), false);
  });

  it('never mints the same key twice in a large sample', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(mintCredential('orgKey').plaintext);
    assert.equal(seen.size, 2000);
  });
});
