import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js';

describe('password hashing (scrypt)', () => {
  it('verifies the right password only, with a fresh salt every time', async () => {
    const a = await hashPassword('correct horse battery staple', 12);
    const b = await hashPassword('correct horse battery staple', 12);
    assert.match(a, /^scrypt\$12\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('correct horse battery staple', a), true);
    assert.equal(await verifyPassword('correct horse battery staplE', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  it('uses the production cost by default (2^15, 32 MiB) and keeps old costs verifiable', async () => {
    const strong = await hashPassword('pw-production-cost', 15);
    assert.match(strong, /^scrypt\$15\$/);
    assert.equal(await verifyPassword('pw-production-cost', strong), true);
    const cheap = await hashPassword('pw-old-cost', 10);
    assert.equal(await verifyPassword('pw-old-cost', cheap), true);
  });

  it('treats anything that is not our format as a mismatch, never a throw', async () => {
    for (const stored of ['', 'plaintext', 'scrypt$1$2$3', 'scrypt$99$8$1$aaaa$bbbb', 'bcrypt$10$8$1$aaaa$bbbb']) {
      assert.equal(await verifyPassword('x', stored), false, stored);
    }
    assert.equal(await burnPasswordCheck('x', 10), false);
  });

  it('normalizes Unicode so the same visible password always matches', async () => {
    const composed = 'caf\u00e9 au lait 1234';
    const decomposed = 'cafe\u0301 au lait 1234';
    assert.equal(await verifyPassword(decomposed, await hashPassword(composed, 10)), true);
  });
});
