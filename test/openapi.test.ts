import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CONTROL_PLANE_SNAPSHOT, generateControlPlaneOpenApi, generateTenantOpenApi, readSnapshot, TENANT_SNAPSHOT } from './support/openapi.js';

interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

function operationIds(doc: Doc): string[] {
  const ids: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(op.operationId, `${method.toUpperCase()} ${p} has an operationId`);
      ids.push(op.operationId);
    }
  }
  return ids;
}

/** The one place each plaintext credential may appear: the responses that mint it. */
function assertCredentialOnlyWhereMinted(doc: Doc, field: string, minting: Set<string>) {
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      const text = JSON.stringify(op.responses ?? {});
      assert.equal(text.includes(`"${field}"`), minting.has(op.operationId ?? ''), `${op.operationId} and ${field}`);
      assert.equal(text.includes('token_hash'), false);
      assert.equal(text.includes('password'), false, `${op.operationId} names no password in a response`);
    }
  }
}

describe('tenant OpenAPI document', () => {
  let doc: Doc;
  before(async () => {
    doc = (await generateTenantOpenApi()) as Doc;
  });

  it('matches the committed snapshot (run `npm run openapi:update` after an intended change)', () => {
    assert.deepEqual(doc, readSnapshot(TENANT_SNAPSHOT));
  });

  it('is OpenAPI 3.1 with a unique operationId on every operation', () => {
    assert.equal(doc.openapi, '3.1.0');
    const ids = operationIds(doc);
    assert.equal(new Set(ids).size, ids.length);
    for (const expected of ['mintOrgToken', 'listOrgTokens', 'revokeOrgToken', 'rotateOrgToken', 'createWorkspace', 'verifyAudit']) {
      assert.ok(ids.includes(expected), expected);
    }
  });

  it('names a plaintext credential only in the responses that mint one', () => {
    assertCredentialOnlyWhereMinted(doc, 'auth_token', new Set(['mintOrgToken', 'rotateOrgToken', 'createWorkspace', 'mintWorkspaceToken', 'adminMintWorkspaceToken', 'importOrg']));
  });
});

describe('control plane OpenAPI document', () => {
  let doc: Doc;
  before(async () => {
    doc = (await generateControlPlaneOpenApi()) as Doc;
  });

  it('matches the committed snapshot (run `npm run openapi:update` after an intended change)', () => {
    assert.deepEqual(doc, readSnapshot(CONTROL_PLANE_SNAPSHOT));
  });

  it('is OpenAPI 3.1, lists each operation once under /api/v1 (the /cp alias is described, not repeated)', () => {
    assert.equal(doc.openapi, '3.1.0');
    const ids = operationIds(doc);
    assert.equal(new Set(ids).size, ids.length);
    const paths = Object.keys(doc.paths);
    assert.equal(paths.filter((p) => p.startsWith('/cp/')).length, 0);
    for (const p of paths) assert.ok(p.startsWith('/api/v1/') || ['/health', '/metrics', '/openapi.json'].includes(p) || p.startsWith('/billing/'), p);
    for (const expected of ['signup', 'login', 'createOrg', 'listOrgs', 'deleteOrg', 'exportOrg', 'getProvisionStatus', 'getOrgInstance', 'adminListOrgs', 'adminCreateOrg', 'checkTenantMember']) {
      assert.ok(ids.includes(expected), expected);
    }
  });

  it('names a plaintext invitation token only where one is minted', () => {
    const minting = new Set(doc.paths['/api/v1/orgs/{slug}/members/invitations']?.['post']?.operationId ? [doc.paths['/api/v1/orgs/{slug}/members/invitations']!['post']!.operationId!] : []);
    assert.equal(minting.size, 1, 'invitations are minted at POST /api/v1/orgs/{slug}/members/invitations');
    assertCredentialOnlyWhereMinted(doc, 'invite_token', minting);
  });
});
