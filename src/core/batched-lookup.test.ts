import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchedLookup } from './batched-lookup.js';

/** A query whose answers the test releases by hand, recording what each call was asked and when. */
function gatedQuery(table: Map<string, string>) {
  const calls: Array<{ keys: string[]; release: (fail?: Error) => void }> = [];
  const query = (keys: string[]) =>
    new Promise<Map<string, string>>((resolve, reject) => {
      calls.push({
        keys,
        release: (fail) => (fail ? reject(fail) : resolve(new Map(keys.filter((k) => table.has(k)).map((k) => [k, table.get(k)!])))),
      });
    });
  return { calls, query };
}

describe('BatchedLookup', () => {
  it('a lone lookup queries at once; lookups arriving while it runs share the next query, each key asked once', async () => {
    const table = new Map([['a', 'row-a'], ['b', 'row-b']]);
    const { calls, query } = gatedQuery(table);
    const lookups = new BatchedLookup(query);
    const first = lookups.lookup('a');
    assert.deepEqual(calls.map((c) => c.keys), [['a']]);
    const second = [lookups.lookup('a'), lookups.lookup('b'), lookups.lookup('a'), lookups.lookup('zz')];
    assert.equal(calls.length, 1, 'nothing more runs while a query is in flight');
    calls[0]!.release();
    assert.equal(await first, 'row-a');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls.map((c) => c.keys), [['a'], ['a', 'b', 'zz']]);
    calls[1]!.release();
    assert.deepEqual(await Promise.all(second), ['row-a', 'row-b', 'row-a', undefined]);
  });

  it('never answers from a query that started before the lookup: a row removed meanwhile is not found', async () => {
    const table = new Map([['k', 'live']]);
    const { calls, query } = gatedQuery(table);
    const lookups = new BatchedLookup(query);
    const before = lookups.lookup('k');
    table.delete('k'); // the revoke commits while the first query is in flight …
    const after = lookups.lookup('k'); // … and this request arrives after it
    calls[0]!.release();
    await new Promise((r) => setImmediate(r));
    calls[1]!.release();
    // The first query was answered from the table as it is at release; the point is that `after` had its own query.
    await before;
    assert.equal(calls.length, 2);
    assert.equal(await after, undefined);
  });

  it('a failed query fails every lookup of its batch with its error, and the next batch still runs', async () => {
    const { calls, query } = gatedQuery(new Map([['x', 'row-x']]));
    const lookups = new BatchedLookup(query);
    const a = lookups.lookup('x');
    const b = lookups.lookup('x');
    const c = lookups.lookup('y');
    calls[0]!.release();
    assert.equal(await a, 'row-x');
    await new Promise((r) => setImmediate(r));
    const outage = new Error('connection refused');
    calls[1]!.release(outage);
    await assert.rejects(b, outage);
    await assert.rejects(c, outage);
    const d = lookups.lookup('x');
    assert.equal(calls.length, 3);
    calls[2]!.release();
    assert.equal(await d, 'row-x');
  });
});
