/**
 * The one closed table of error codes. Runtime mapping, the OpenAPI error component and the unit test
 * that pins it all derive from this object; nothing else may invent a code.
 *
 * Messages that reference clients match on are quoted exactly from the reference contract
 * (spec/reference-tenant.md §2–§3): "admin auth required", "invalid admin auth token",
 * "token not found or already revoked", "maximum 50 active tokens per workspace", ….
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'invalid request' },
  INVALID_JSON: { status: 400, message: 'invalid JSON body' },
  INVALID_ID: { status: 400, message: 'invalid id' },
  TENANT_ORG_HEADER_REQUIRED: { status: 400, message: 'missing tenant routing header' },
  ADMIN_AUTH_REQUIRED: { status: 401, message: 'admin auth required' },
  INVALID_ADMIN_AUTH: { status: 401, message: 'invalid admin auth token' },
  WORKSPACE_AUTH_REQUIRED: { status: 401, message: 'missing workspace auth token' },
  INVALID_WORKSPACE_AUTH: { status: 401, message: 'invalid workspace auth token' },
  ROLE_FORBIDDEN: { status: 403, message: "this credential's role does not permit this action" },
  // GET /workspaces/:id/secrets/values: the decrypted environment is for the workspace's own runtime only.
  WORKSPACE_TOKEN_REQUIRED: { status: 403, message: "only the workspace's own token can read its secret values" },
  SCOPE_EXCEEDED: { status: 403, message: 'this credential is bound to specific workspaces and cannot act org-wide' },
  KEY_RETIRING: { status: 403, message: 'this key has been rotated and is retiring; it can no longer manage keys — use its replacement' },
  ROUTE_NOT_FOUND: { status: 404, message: 'route not found' },
  NOT_FOUND: { status: 404, message: 'not found' },
  WORKSPACE_NOT_FOUND: { status: 404, message: 'workspace not found' },
  TOKEN_NOT_FOUND: { status: 404, message: 'token not found or already revoked' },
  SECRET_NOT_FOUND: { status: 404, message: 'secret not found' },
  // GET /bundles/export/:id answers every failure to find what it may export with this (reference §3.13).
  BUNDLE_NOT_FOUND: { status: 404, message: 'bundle not found' },
  CONFLICT: { status: 409, message: 'conflict' },
  // Approvals (reference §3.15): the reference's wire strings, plus what it lacked (separation of duties).
  APPROVAL_NOT_FOUND: { status: 404, message: 'approval not found' },
  APPROVAL_ALREADY_DECIDED: { status: 404, message: 'approval not found or already decided' },
  APPROVAL_NOT_PENDING: { status: 409, message: 'approval not pending (already decided or withdrawn)' },
  APPROVAL_NOT_REQUESTER: { status: 403, message: 'not the requester' },
  APPROVAL_SELF_DECISION: { status: 403, message: 'the principal that requested an approval cannot decide it; another principal must' },
  APPROVAL_DECIDER_FORBIDDEN: { status: 403, message: 'this credential cannot decide approvals (workspace tokens and approval-required keys never can)' },
  // GET /ws answered without a WebSocket upgrade.
  UPGRADE_REQUIRED: { status: 426, message: 'this route needs a WebSocket upgrade' },
  // GET/PUT /workspaces/:id/provider (reference §3.7): the LLM_PROVIDER secret was retired; the model says it all.
  ENDPOINT_GONE: { status: 410, message: 'this endpoint was retired' },
  // Org templates and import (reference §3.11): the reference's wire strings.
  ORG_TEMPLATE_INVALID: { status: 400, message: 'invalid org template' },
  ORG_TEMPLATE_EXPANSION_FAILED: { status: 400, message: 'org template expansion failed' },
  ORG_DIRECTORY_INVALID: { status: 400, message: 'invalid org directory' },
  ORG_TEMPLATE_NOT_FOUND: { status: 404, message: 'org template not found' },
  ORG_REQUIRED_ENV_MISSING: { status: 412, message: 'missing required environment variables' },
  ORG_TEMPLATE_TOO_LARGE: { status: 413, message: 'org template too large' },
  // Plugins (src/tenant/plugins; reference §3.14): the allowlist refusal is the reference's 403, its text names the plugin.
  PLUGIN_NOT_FOUND: { status: 404, message: 'plugin not found' },
  PLUGIN_NOT_INSTALLED: { status: 404, message: 'plugin not installed' },
  PLUGIN_NOT_ALLOWED: { status: 403, message: 'plugin is not in the org allowlist' },
  PLUGIN_ENV_MISSING: { status: 412, message: 'missing required environment variables' },
  // Control plane (spec/reference-control-plane.md §2–§5).
  SESSION_REQUIRED: { status: 401, message: 'not authenticated: sign in first' },
  INVALID_CREDENTIALS: { status: 401, message: 'invalid email or password' },
  TENANT_CREDENTIAL_REJECTED: { status: 401, message: 'tenant credentials are not accepted by the control plane' },
  ORIGIN_FORBIDDEN: { status: 403, message: 'cross-site request refused' },
  // Partner API keys (reference §3.6): the wire strings are the reference's.
  INVALID_API_KEY: { status: 401, message: 'invalid API key' },
  API_KEY_EXPIRED: { status: 401, message: 'API key expired' },
  PARTNER_KEY_NOT_ACCEPTED: { status: 401, message: 'partner API keys are not accepted on this route' },
  SCOPE_MISSING: { status: 403, message: 'this API key lacks the scope this action needs' },
  KEY_TOO_WIDE: { status: 403, message: 'a key cannot mint a key wider than itself' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'verify your email address first' },
  EMAIL_VERIFICATION_INVALID: { status: 400, message: 'this verification link is invalid, expired, already used or not for this account' },
  // Device authorization (RFC 8628 §3.5): `error` is the RFC's error string exactly, so an RFC client reads it as such.
  DEVICE_AUTHORIZATION_PENDING: { status: 400, message: 'authorization_pending' },
  DEVICE_SLOW_DOWN: { status: 400, message: 'slow_down' },
  DEVICE_ACCESS_DENIED: { status: 400, message: 'access_denied' },
  DEVICE_CODE_EXPIRED: { status: 400, message: 'expired_token' },
  DEVICE_USER_CODE_INVALID: { status: 400, message: 'this code is unknown, expired or already used; check the code your device shows' },
  PAYMENT_REQUIRED: { status: 402, message: 'plan quota exceeded' },
  ORG_NOT_FOUND: { status: 404, message: 'org not found' },
  MEMBER_NOT_FOUND: { status: 404, message: 'member not found' },
  INVITATION_NOT_FOUND: { status: 404, message: 'invitation not found, expired or already used' },
  BILLING_SESSION_NOT_FOUND: { status: 404, message: 'billing session not found' },
  IDENTITY_PROVIDER_NOT_FOUND: { status: 404, message: 'identity provider not configured' },
  IDENTITY_PROVIDER_DENIED: { status: 400, message: 'the identity provider did not complete the sign-in' },
  SLUG_TAKEN: { status: 409, message: 'slug already taken' },
  EMAIL_TAKEN: { status: 409, message: 'an account with this email already exists' },
  EMAIL_ALREADY_VERIFIED: { status: 409, message: 'this email address is already verified' },
  ALREADY_MEMBER: { status: 409, message: 'already a member of this org' },
  LAST_OWNER: { status: 409, message: 'an org must keep at least one owner' },
  INVITATION_LIMIT: { status: 409, message: 'too many pending invitations for this org' },
  BILLING_SESSION_CLOSED: { status: 409, message: 'billing session already completed, cancelled or expired' },
  PLAN_UNCHANGED: { status: 409, message: 'the org is already on this plan' },
  // The message is the code on purpose: reference tenants read only `error` and match "RUNTIME_PIN_MISSING" (§2.5).
  RUNTIME_PIN_MISSING: { status: 422, message: 'RUNTIME_PIN_MISSING' },
  TERMS_NOT_ACCEPTED: { status: 412, message: 'terms of service not accepted' },
  IDENTITY_PROVIDER_FAILED: { status: 502, message: 'sign-in with the identity provider failed' },
  CONFIRMATION_REQUIRED: { status: 409, message: 'confirmation required' },
  // The edge (src/control-plane/edge): an org whose tenant is not running yet, or does not answer.
  TENANT_NOT_READY: { status: 503, message: "this org's tenant is not ready yet; retry after the Retry-After delay" },
  TENANT_UNREACHABLE: { status: 502, message: "this org's tenant did not answer" },
  // Admin / fleet (src/control-plane/fleet; reference §2.4, §4.6–§4.9).
  ADMIN_TOKEN_NOT_FOUND: { status: 404, message: "this org's tenant admin token is not provisioned yet" },
  PURGE_IN_PROGRESS: { status: 409, message: 'a delete of this org is already running; retry shortly' },
  TENANT_STILL_LIVE: { status: 409, message: 'this slug belongs to a live org; delete the org instead' },
  TENANT_REQUEST_FAILED: { status: 502, message: "this org's tenant answered with an error" },
  TENANT_RESTART_FAILED: { status: 502, message: "this org's tenant could not be restarted" },
  // The tenant's own /cp/* proxy (reference §3.8(c)): the control plane did not answer. Wire text from the reference.
  CONTROL_PLANE_UNAVAILABLE: { status: 502, message: 'control plane unavailable' },
  // Tenant audit anchors (src/control-plane/tenants): a tenant reported a chain shorter than (or different from, at the
  // same length) the one it anchored before — rewound or rewritten. Recorded, and answered loudly.
  AUDIT_ANCHOR_REGRESSION: { status: 409, message: 'the reported audit chain is behind or diverges from its last anchor' },
  AUDIT_ANCHOR_NOT_FOUND: { status: 404, message: 'no audit anchor has been reported for this org' },
  // Idempotency-Key (src/core/http/idempotency.ts; issue 13): Stripe's semantics for a reused or busy key.
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'this Idempotency-Key was used with a different request' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, message: 'a request with this Idempotency-Key is still in progress; retry after the Retry-After delay' },
  // The org key policy (GET/PUT /org/settings/key-policy; issue 14), enforced at mint; the context names the rule.
  KEY_POLICY_EXPIRY_REQUIRED: { status: 422, message: 'this org requires every new key to expire: set expires_at' },
  KEY_POLICY_LIFETIME_EXCEEDED: { status: 422, message: "the key would outlive this org's maximum key lifetime" },
  // The server's own refusals, before any route runs (src/core/http/connections.ts and the router).
  REQUEST_TIMEOUT: { status: 408, message: 'request not received in time; the connection is closed' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  URI_TOO_LONG: { status: 414, message: 'a path segment is too long' },
  HEADERS_TOO_LARGE: { status: 431, message: 'request headers (or URL) too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type; send application/json' },
  // The MCP endpoint (src/mcp/http.ts): stateless, so only POST; and Streamable HTTP clients must accept JSON and SSE.
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  NOT_ACCEPTABLE: { status: 406, message: 'not acceptable' },
  RATE_LIMITED: { status: 429, message: 'rate limit exceeded' },
  TOKEN_LIMIT: { status: 429, message: 'maximum 50 active tokens per workspace' },
  STREAM_LIMIT: { status: 429, message: 'too many open event streams' },
  INTERNAL: { status: 500, message: 'internal server error' },
  PROVISIONER_UNAVAILABLE: { status: 503, message: 'provisioner not available' },
  // The web console's pages when dist/web was never built (src/core/http/console.ts).
  CONSOLE_NOT_BUILT: { status: 503, message: 'console not built: run npm run build:web' },
  // An org is deleted only once its tenant is stopped: its slug must not be released while the old tenant runs.
  TENANT_DEPROVISION_FAILED: { status: 503, message: "the org's tenant could not be stopped; nothing was deleted" },
  // Lower-case for wire compatibility: reference clients match `code == "platform_unavailable"`.
  platform_unavailable: { status: 503, message: 'platform datastore unavailable — retry shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Extra context fields that travel in the error body beside error/code/request_id. */
export type ErrorContext = Record<string, unknown>;

/** An expected failure below HTTP. Translated to the wire body at one boundary: the root error handler. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  constructor(code: ErrorCode, message?: string, context: ErrorContext = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** The datastore could not answer. Never turned into 401: a client must retry, not re-authenticate. */
export class DatastoreUnavailableError extends DomainError {
  constructor(readonly causeError?: unknown) {
    super('platform_unavailable');
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, context: ErrorContext = {}) {
    super('VALIDATION_FAILED', message, context);
  }
}

export class NotFoundError extends DomainError {}

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  request_id: string;
  [key: string]: unknown;
}

export function errorBody(code: ErrorCode, requestId: string, message?: string, context: ErrorContext = {}): ErrorBody {
  return { ...context, error: message ?? ERROR_CODES[code].message, code, request_id: requestId };
}
