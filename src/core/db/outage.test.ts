import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatastoreUnavailableError } from '../errors.js';
import { Backoff, isDatastoreOutage, retryThroughOutages } from './outage.js';

const silent = { warn: () => undefined, error: () => undefined };

function pgError(code: string, message = 'x') {
  return Object.assign(new Error(message), { code });
}

describe('isDatastoreOutage', () => {
  it('is true for what a restart, a crash or a dead connection looks like', () => {
    for (const err of [
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('ECONNREFUSED'),
      pgError('08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client was closed and is not queryable'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout', { cause: pgError('ECONNREFUSED') }),
      new DatastoreUnavailableError(pgError('ECONNRESET')),
    ]) {
      assert.equal(isDatastoreOutage(err), true, err.message);
    }
  });

  it('is false for a query that is wrong and for a domain error', () => {
    for (const err of [pgError('23505', 'duplicate key'), pgError('42P01', 'relation does not exist'), pgError('CONFLICT'), new Error('boom'), null, 'text']) {
      assert.equal(isDatastoreOutage(err), false, String(err));
    }
  });
});

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap (±20 % jitter) and starts over after reset', () => {
    const b = new Backoff(100, 1000);
    const delays = Array.from({ length: 6 }, () => b.next());
    const bases = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((d, i) => assert.ok(d >= bases[i]! * 0.8 && d <= bases[i]! * 1.2, `delay ${i}: ${d} around ${bases[i]}`));
    b.reset();
    assert.ok(b.next() <= 120);
  });
});

describe('retryThroughOutages', () => {
  it('retries through outage errors until the work succeeds', async () => {
    let calls = 0;
    const result = await retryThroughOutages(
      async () => {
        calls++;
        if (calls < 3) throw pgError('ECONNREFUSED');
        return 'done';
      },
      { log: silent, what: 'test', backoff: new Backoff(1, 5), keepAlive: true },
    );
    assert.equal(result, 'done');
    assert.equal(calls, 3);
  });

  it('does not retry an error that is not an outage, and never rejects', async () => {
    let calls = 0;
    const errors: string[] = [];
    const result = await retryThroughOutages(
      async () => {
        calls++;
        throw pgError('23505', 'duplicate key');
      },
      { log: { warn: () => undefined, error: (_o, msg) => errors.push(msg) }, what: 'insert', backoff: new Backoff(1, 5), keepAlive: true },
    );
    assert.equal(result, undefined);
    assert.equal(calls, 1);
    assert.deepEqual(errors, ['insert failed']);
  });

  it('gives up when stopped (shutdown) or past its deadline', async () => {
    let stopped = false;
    let calls = 0;
    const result = await retryThroughOutages(
      async () => {
        calls++;
        if (calls === 2) stopped = true;
        throw pgError('57P01');
      },
      { log: silent, what: 'test', stopped: () => stopped, backoff: new Backoff(1, 5), keepAlive: true },
    );
    assert.equal(result, undefined);
    assert.equal(calls, 2);
    const late = await retryThroughOutages(
      async () => {
        throw pgError('57P01');
      },
      { log: silent, what: 'test', deadlineMs: 0, backoff: new Backoff(50, 50), keepAlive: true },
    );
    assert.equal(late, undefined);
  });
});
