import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { describeReservedEnvNames } from '../../core/compute/reserved-env.js';
import { ValidationError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { Text } from '../../core/http/input.js';

/**
 * Secret keys are environment variable names. The reference accepts any key (spec §3.7); we refuse what could
 * not be exported to a process environment, so a stored secret always reaches the workspace.
 */
export const SECRET_KEY_PATTERN = '^[A-Z_][A-Z0-9_]*$';
export const SECRET_KEY_MAX = 128;
export const SECRET_VALUE_MAX = 65536;

export const SecretKey = Type.String({
  pattern: SECRET_KEY_PATTERN,
  minLength: 1,
  maxLength: SECRET_KEY_MAX,
  description:
    'An environment variable name: A-Z, 0-9 and _, not starting with a digit; at most 128 characters. ' +
    `Names the platform owns are refused on write (400 naming the key): ${describeReservedEnvNames()}.`,
  'x-error': 'must be an environment variable name (A-Z, 0-9, _; not starting with a digit; at most 128 characters)',
});

export const SecretSetRequest = Type.Object(
  {
    key: SecretKey,
    // Write-only: no response schema of this domain has a `value` field, so a value can never be serialized out.
    value: Text({ minLength: 1, maxLength: SECRET_VALUE_MAX, description: 'The secret value, 1 to 65536 characters. Never returned.' }),
  },
  { additionalProperties: false },
);
export type SecretSetRequest = Static<typeof SecretSetRequest>;

export const SecretKeyParams = Type.Object({ key: SecretKey });

/** The reference's message for a missing key or value (spec §3.7, §3.8); the detail still names the field. */
export const INVALID_BODY = 'invalid request body';
/** For a malformed key in the path. */
export const INVALID_KEY = 'invalid secret key';

const Timestamp = Type.String({ format: 'date-time' });

export const WorkspaceSecretListItem = Type.Object({
  key: Type.String(),
  has_value: Type.Literal(true),
  scope: Type.Union([Type.Literal('workspace'), Type.Literal('global')], { description: '`global` when the org-wide value applies (no workspace value shadows it).' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type WorkspaceSecretListItem = Static<typeof WorkspaceSecretListItem>;

export const GlobalSecretListItem = Type.Object({
  key: Type.String(),
  has_value: Type.Literal(true),
  created_at: Timestamp,
  updated_at: Timestamp,
  scope: Type.Literal('global'),
});
export type GlobalSecretListItem = Static<typeof GlobalSecretListItem>;

export const WorkspaceSecretSaved = Type.Object({ status: Type.Literal('saved'), key: Type.String() });
export const WorkspaceSecretDeleted = Type.Object({ status: Type.Literal('deleted'), key: Type.String() });
export const GlobalSecretSaved = Type.Object({ status: Type.Literal('saved'), key: Type.String(), scope: Type.Literal('global') });
export const GlobalSecretDeleted = Type.Object({ status: Type.Literal('deleted'), key: Type.String(), scope: Type.Literal('global') });

/**
 * Workspace secret routes answer a malformed `:id` with the reference's `invalid workspace ID` (spec §3.7) while
 * their body errors say `invalid request body`. One `validationError` per route cannot say both, so the id is
 * checked here, before validation; the params schema keeps its pattern for the OpenAPI document.
 */
export async function rejectMalformedWorkspaceId(request: FastifyRequest): Promise<void> {
  const id = (request.params as { id?: unknown }).id;
  if (typeof id !== 'string' || !isUuid(id)) {
    throw new ValidationError('invalid workspace ID', { field: 'id', detail: 'id must be a workspace UUID' });
  }
}

/** The global secrets collection: canonical path first, then the reference's legacy alias (spec §3.8). */
export const GLOBAL_SECRETS_PATHS = [
  { url: '/settings/secrets', operationSuffix: '', deprecated: false },
  { url: '/admin/secrets', operationSuffix: 'Legacy', deprecated: true },
] as const;

/** Legacy responses say where to go instead (RFC 9745 Deprecation, RFC 8288 successor-version link). */
export async function markLegacySecretsResponse(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('deprecation', 'true');
  reply.header('link', '</settings/secrets>; rel="successor-version"');
  return payload;
}
