import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { generateTenantOpenApi, readTenantSnapshot } from './support/openapi.js';

interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe('tenant OpenAPI document', () => {
  let doc: Doc;
  before(async () => {
    doc = (await generateTenantOpenApi()) as Doc;
  });

  it('matches the committed snapshot (run `npm run openapi:update` after an intended change)', () => {
    assert.deepEqual(doc, readTenantSnapshot());
  });

  it('is OpenAPI 3.1 with a unique operationId on every operation', () => {
    assert.equal(doc.openapi, '3.1.0');
    const ids: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(op.operationId, `${method.toUpperCase()} ${p} has an operationId`);
        ids.push(op.operationId);
      }
    }
    assert.equal(new Set(ids).size, ids.length);
    for (const expected of ['mintOrgToken', 'listOrgTokens', 'revokeOrgToken', 'rotateOrgToken', 'createWorkspace', 'verifyAudit']) {
      assert.ok(ids.includes(expected), expected);
    }
  });

  it('names a plaintext credential only in the responses that mint one', () => {
    const minting = new Set(['mintOrgToken', 'rotateOrgToken', 'createWorkspace', 'mintWorkspaceToken']);
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        const text = JSON.stringify(op.responses ?? {});
        assert.equal(text.includes('"auth_token"'), minting.has(op.operationId ?? ''), `${op.operationId}`);
        assert.equal(text.includes('token_hash'), false);
      }
    }
  });
});
