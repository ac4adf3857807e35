/**
 * The audit writer never lets one malformed event block the trail behind it: a batch the database refuses for its
 * content is written event by event, the bad event logged and dropped, the rest written in order, the chain intact.
 * And a request whose client hung up before the answer still yields a well-formed event (its peer address known).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyChain, type AuditEventInput } from '../src/core/audit/chain.js';
import { auditDb } from '../src/core/audit/schema.js';
import { AuditWriter } from '../src/core/audit/writer.js';
import { createLogger } from '../src/core/logger.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

function event(path: string, clientIp: string | null): AuditEventInput {
  return {
    occurredAt: new Date(),
    actor: 'test',
    credentialClass: 'none',
    credentialId: null,
    method: 'GET',
    route: '/x',
    path,
    status: 200,
    durationMs: 1,
    requestId: `req_${path}`,
    clientIp: clientIp as string,
  };
}

forEachDatabase('audit writer', (kind) => {
  let tenant: TestTenant;
  before(async () => {
    tenant = await startTestTenant(kind);
  });
  after(() => tenant.close());

  it('a refused event is dropped and logged; the events around it are written, in order, chain intact', async () => {
    const lines: string[] = [];
    const writer = new AuditWriter(auditDb(tenant.db), createLogger({ name: 'audit-test', level: 'error', destination: { write: (l: string) => void lines.push(l) } }), { flushIntervalMs: 60_000 });
    await writer.enqueue(event('/before', '127.0.0.1'));
    await writer.enqueue(event('/malformed', null));
    await writer.enqueue(event('/after', '127.0.0.1'));
    await writer.flush();
    assert.equal(writer.pending, 0, 'nothing is left waiting for a retry that can never succeed');
    const rows = await tenant.db.selectFrom('audit_events').select('path').where('path', 'in', ['/before', '/malformed', '/after']).orderBy('seq').execute();
    assert.deepEqual(rows.map((r) => r.path), ['/before', '/after']);
    assert.ok(lines.some((l) => l.includes('audit event refused by the database') && l.includes('/malformed')), lines.join('\n'));
    await writer.enqueue(event('/later', '127.0.0.1'));
    await writer.close();
    assert.ok(await tenant.db.selectFrom('audit_events').select('path').where('path', '=', '/later').executeTakeFirst(), 'later events still flow');
    const verified = await verifyChain(tenant.db);
    assert.equal(verified.ok, true, JSON.stringify(verified));
  });
});

describe('audit event of a request whose client hung up', () => {
  it('names the peer even when request.ip is gone', async () => {
    const { auditEventFor } = await import('../src/core/audit/request.js');
    const fake = { principal: undefined, method: 'GET', routeOptions: { url: '/x' }, url: '/x', id: 'req_1', ip: undefined, socket: { remoteAddress: '127.0.0.1' } };
    assert.equal(auditEventFor(fake as never, 200, 1).clientIp, '127.0.0.1');
    const gone = { ...fake, socket: undefined };
    assert.equal(auditEventFor(gone as never, 200, 1).clientIp, 'unknown');
  });
});
