import { Type } from 'typebox';
import { TEXT_FORMAT, Text } from '../../core/http/input.js';
import type { ErrorCode } from '../../core/errors.js';

/** What every provisioning route (provision secret + X-Molecule-Admin-Token) can answer with besides its own errors. */
export const PROVISION_ERRORS: ErrorCode[] = ['ADMIN_AUTH_REQUIRED', 'INVALID_ADMIN_AUTH', 'platform_unavailable'];

/** A runtime or template name: what a pin is keyed by (no whitespace or control characters). */
export const RuntimeName = Text({
  minLength: 1,
  maxLength: 100,
  // Also a directory name under WORKSPACE_TEMPLATES_DIR: no slash, and no leading dot (never `.` or `..`).
  pattern: '^[^\\u0000-\\u0020\\u007f/.][^\\u0000-\\u0020\\u007f/]*$',
  'x-error': 'must be 1-100 characters without spaces, slashes or control characters, not starting with a dot',
});

/** `sha256:<64 hex>`. */
export const Digest = Type.String({ maxLength: 71, pattern: '^sha256:[0-9a-f]{64}$', 'x-error': 'must be sha256:<64 lowercase hex digits>' });

export const WorkspaceIdParam = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', 'x-error': 'must be a workspace UUID' });

export const InstanceId = Type.String({ maxLength: 64, pattern: '^wsi_[0-9A-HJKMNP-TV-Z]{26}$', 'x-error': 'must be an instance id (wsi_…)' });

export const InstanceState = Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('terminated'), Type.Literal('failed')], {
  description: '`running`; `stopped` (the runtime exited by itself with code 0); `terminated` (stopped by a DELETE, a replacement or the CP); `failed` (it exited with an error).',
});

/** `{path: base64}` maps: bounded in entries, path length and (checked by the handler) decoded bytes. */
export function FileMap(description: string) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    propertyNames: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9._/-]+$' },
    additionalProperties: { type: 'string', maxLength: 1024 * 1024, pattern: '^[A-Za-z0-9+/]*={0,2}$' },
    maxProperties: 256,
    description,
  });
}

/** The runtime's environment: keys like environment names, string values. */
export const EnvMap = Type.Unsafe<Record<string, string>>({
  type: 'object',
  propertyNames: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 128 },
  additionalProperties: { type: 'string', format: TEXT_FORMAT, maxLength: 65536 },
  maxProperties: 256,
  description:
    'The workspace’s environment. `MOLECULE_WORKSPACE_TOKEN` (its instance token, required) and `HEARTBEAT_INTERVAL_SECONDS` (optional) are for the runtime; ' +
    'every other key becomes the agent’s environment (names the platform reserves are refused). Held in memory and handed to the runtime only; never stored.',
});
