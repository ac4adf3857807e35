import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../core/errors.js';
import { burnPasswordCheck, hashPassword, passwordWork, PasswordWork, verifyPassword } from './passwords.js';

// First in the file on purpose: the decoy hash behind burnPasswordCheck is made once per process.
describe('the unknown-email decoy check under a full work queue', () => {
  it('is refused with 429 while the gate is full, and works once it has room (the refusal is not cached)', async () => {
    const held: Array<() => void> = [];
    passwordWork.configure({ maxConcurrent: 1, maxQueued: 0 });
    passwordWork.beforeDerive = () => new Promise<void>((resolve) => held.push(resolve));
    try {
      const occupying = hashPassword('occupies the only slot', 10);
      await assert.rejects(burnPasswordCheck('x', 10), (err: unknown) => err instanceof DomainError && err.code === 'RATE_LIMITED');
      passwordWork.beforeDerive = null;
      held.forEach((release) => release());
      await occupying;
      assert.equal(await burnPasswordCheck('x', 10), false);
    } finally {
      passwordWork.beforeDerive = null;
      passwordWork.configure({ maxConcurrent: 4, maxQueued: 64 });
    }
  });
});

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

describe('the scrypt work gate', () => {
  it('runs at most maxConcurrent at once, queues maxQueued in arrival order, and refuses beyond with 429', async () => {
    const gate = new PasswordWork(2, 2);
    const release: Array<() => void> = [];
    const order: number[] = [];
    const job = (n: number) =>
      gate.run(async () => {
        order.push(n);
        await new Promise<void>((resolve) => release.push(resolve));
        return n;
      });
    const running = [job(1), job(2), job(3), job(4)];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([gate.inFlight, gate.queued, order], [2, 2, [1, 2]]);
    await assert.rejects(job(5), (err: unknown) => err instanceof DomainError && err.code === 'RATE_LIMITED' && err.context['retry_after'] === 1);
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([gate.inFlight, gate.queued, order], [2, 1, [1, 2, 3]]);
    while (order.length < 4 || release.length > 0) {
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(running), [1, 2, 3, 4]);
    assert.deepEqual([gate.inFlight, gate.queued], [0, 0]);
  });

  it('frees its slot when the work fails', async () => {
    const gate = new PasswordWork(1, 0);
    await assert.rejects(gate.run(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await gate.run(async () => 'ok'), 'ok');
  });
});
