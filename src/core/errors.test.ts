import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatastoreUnavailableError, DomainError, ERROR_CODES, errorBody } from './errors.js';

describe('error table', () => {
  it('is pinned: every code with its status and wire message', () => {
    // Changing this table changes the API contract; update clients and the OpenAPI snapshot with it.
    assert.deepEqual(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, `${v.status} ${v.message}`])),
      {
        VALIDATION_FAILED: '400 invalid request',
        INVALID_JSON: '400 invalid JSON body',
        INVALID_ID: '400 invalid id',
        TENANT_ORG_HEADER_REQUIRED: '400 missing tenant routing header',
        ADMIN_AUTH_REQUIRED: '401 admin auth required',
        INVALID_ADMIN_AUTH: '401 invalid admin auth token',
        WORKSPACE_AUTH_REQUIRED: '401 missing workspace auth token',
        INVALID_WORKSPACE_AUTH: '401 invalid workspace auth token',
        ROLE_FORBIDDEN: "403 this credential's role does not permit this action",
        SCOPE_EXCEEDED: '403 this credential is bound to specific workspaces and cannot act org-wide',
        KEY_RETIRING: '403 this key has been rotated and is retiring; it can no longer manage keys — use its replacement',
        ROUTE_NOT_FOUND: '404 route not found',
        NOT_FOUND: '404 not found',
        WORKSPACE_NOT_FOUND: '404 workspace not found',
        WORKSPACE_TOKEN_REQUIRED: "403 only the workspace's own token can read its secret values",
        UPGRADE_REQUIRED: '426 this route needs a WebSocket upgrade',
        ENDPOINT_GONE: '410 this endpoint was retired',
        TOKEN_NOT_FOUND: '404 token not found or already revoked',
        SECRET_NOT_FOUND: '404 secret not found',
        BUNDLE_NOT_FOUND: '404 bundle not found',
        CONFLICT: '409 conflict',
        APPROVAL_NOT_FOUND: '404 approval not found',
        APPROVAL_ALREADY_DECIDED: '404 approval not found or already decided',
        APPROVAL_NOT_PENDING: '409 approval not pending (already decided or withdrawn)',
        APPROVAL_NOT_REQUESTER: '403 not the requester',
        APPROVAL_SELF_DECISION: '403 the principal that requested an approval cannot decide it; another principal must',
        APPROVAL_DECIDER_FORBIDDEN: '403 this credential cannot decide approvals (workspace tokens and approval-required keys never can)',
        ORG_TEMPLATE_INVALID: '400 invalid org template',
        ORG_TEMPLATE_EXPANSION_FAILED: '400 org template expansion failed',
        ORG_DIRECTORY_INVALID: '400 invalid org directory',
        ORG_TEMPLATE_NOT_FOUND: '404 org template not found',
        ORG_REQUIRED_ENV_MISSING: '412 missing required environment variables',
        ORG_TEMPLATE_TOO_LARGE: '413 org template too large',
        PLUGIN_NOT_FOUND: '404 plugin not found',
        PLUGIN_NOT_INSTALLED: '404 plugin not installed',
        PLUGIN_NOT_ALLOWED: '403 plugin is not in the org allowlist',
        PLUGIN_ENV_MISSING: '412 missing required environment variables',
        SESSION_REQUIRED: '401 not authenticated: sign in first',
        INVALID_CREDENTIALS: '401 invalid email or password',
        TENANT_CREDENTIAL_REJECTED: '401 tenant credentials are not accepted by the control plane',
        ORIGIN_FORBIDDEN: '403 cross-site request refused',
        INVALID_API_KEY: '401 invalid API key',
        API_KEY_EXPIRED: '401 API key expired',
        PARTNER_KEY_NOT_ACCEPTED: '401 partner API keys are not accepted on this route',
        SCOPE_MISSING: '403 this API key lacks the scope this action needs',
        KEY_TOO_WIDE: '403 a key cannot mint a key wider than itself',
        EMAIL_NOT_VERIFIED: '403 verify your email address first',
        EMAIL_VERIFICATION_INVALID: '400 this verification link is invalid, expired, already used or not for this account',
        PAYMENT_REQUIRED: '402 plan quota exceeded',
        ORG_NOT_FOUND: '404 org not found',
        MEMBER_NOT_FOUND: '404 member not found',
        INVITATION_NOT_FOUND: '404 invitation not found, expired or already used',
        BILLING_SESSION_NOT_FOUND: '404 billing session not found',
        IDENTITY_PROVIDER_NOT_FOUND: '404 identity provider not configured',
        IDENTITY_PROVIDER_DENIED: '400 the identity provider did not complete the sign-in',
        SLUG_TAKEN: '409 slug already taken',
        EMAIL_TAKEN: '409 an account with this email already exists',
        EMAIL_ALREADY_VERIFIED: '409 this email address is already verified',
        ALREADY_MEMBER: '409 already a member of this org',
        LAST_OWNER: '409 an org must keep at least one owner',
        INVITATION_LIMIT: '409 too many pending invitations for this org',
        BILLING_SESSION_CLOSED: '409 billing session already completed, cancelled or expired',
        PLAN_UNCHANGED: '409 the org is already on this plan',
        RUNTIME_PIN_MISSING: '422 RUNTIME_PIN_MISSING',
        TERMS_NOT_ACCEPTED: '412 terms of service not accepted',
        IDENTITY_PROVIDER_FAILED: '502 sign-in with the identity provider failed',
        CONFIRMATION_REQUIRED: '409 confirmation required',
        TENANT_NOT_READY: "503 this org's tenant is not ready yet; retry after the Retry-After delay",
        TENANT_UNREACHABLE: "502 this org's tenant did not answer",
        ADMIN_TOKEN_NOT_FOUND: "404 this org's tenant admin token is not provisioned yet",
        PURGE_IN_PROGRESS: '409 a delete of this org is already running; retry shortly',
        TENANT_STILL_LIVE: '409 this slug belongs to a live org; delete the org instead',
        TENANT_REQUEST_FAILED: "502 this org's tenant answered with an error",
        TENANT_RESTART_FAILED: "502 this org's tenant could not be restarted",
        CONTROL_PLANE_UNAVAILABLE: '502 control plane unavailable',
        AUDIT_ANCHOR_REGRESSION: '409 the reported audit chain is behind or diverges from its last anchor',
        AUDIT_ANCHOR_NOT_FOUND: '404 no audit anchor has been reported for this org',
        REQUEST_TIMEOUT: '408 request not received in time; the connection is closed',
        PAYLOAD_TOO_LARGE: '413 request body too large',
        URI_TOO_LONG: '414 a path segment is too long',
        HEADERS_TOO_LARGE: '431 request headers (or URL) too large',
        UNSUPPORTED_MEDIA_TYPE: '415 unsupported content type; send application/json',
        RATE_LIMITED: '429 rate limit exceeded',
        TOKEN_LIMIT: '429 maximum 50 active tokens per workspace',
        STREAM_LIMIT: '429 too many open event streams',
        INTERNAL: '500 internal server error',
        PROVISIONER_UNAVAILABLE: '503 provisioner not available',
        TENANT_DEPROVISION_FAILED: "503 the org's tenant could not be stopped; nothing was deleted",
        platform_unavailable: '503 platform datastore unavailable — retry shortly',
      },
    );
  });

  it('builds the one wire body: error, code, request_id, plus context that cannot override them', () => {
    assert.deepEqual(errorBody('TOKEN_NOT_FOUND', 'req_1', undefined, { code: 'FORGED', id: 'tok_x' }), {
      id: 'tok_x',
      error: 'token not found or already revoked',
      code: 'TOKEN_NOT_FOUND',
      request_id: 'req_1',
    });
  });

  it('maps typed domain errors to their status', () => {
    assert.equal(new DomainError('RATE_LIMITED').status, 429);
    assert.equal(new DatastoreUnavailableError(new Error('econnrefused')).status, 503);
    assert.equal(new DatastoreUnavailableError().code, 'platform_unavailable');
  });
});
