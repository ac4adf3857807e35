import { Type, type Static } from 'typebox';
import { ROLES, type Role } from '../../core/auth/principal.js';
import { idPattern, UUID_PATTERN } from '../../core/ids.js';

export const OrgTokenId = Type.String({ pattern: idPattern('orgToken'), description: 'Org API key id (`tok_` + ULID).', 'x-error': 'must be an org token id (tok_…)' });
export const RoleSchema = Type.Unsafe<Role>(Type.Union(ROLES.map((r) => Type.Literal(r)), {
  description: '`admin` (full tenant admin, the reference behaviour), `editor` (all but key management, org import and global secret writes), `reader` (GET only, never a secret value).',
}));
export const WorkspaceBinding = Type.Union(
  [
    Type.Array(Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be a workspace UUID' }), { minItems: 1, maxItems: 100, uniqueItems: true }),
    Type.Null(),
  ],
  { description: 'Workspaces this key is confined to; null or absent means every workspace. Others answer 404.' },
);

/** An org API key as listed: never the plaintext, never the hash. */
export const OrgToken = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  prefix: Type.String({ description: 'First 13 characters of the key (`mola_` + 8): enough to recognise it, not to use it.' }),
  role: RoleSchema,
  workspace_ids: Type.Union([Type.Array(Type.String()), Type.Null()]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the key stops working (null: never). Never later than the expiry of the key that minted or rotated it.',
  }),
  created_by: Type.String({ description: '`org-token:<prefix>`, `session:<user_id>`, `admin-token` or `bootstrap`.' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  rotated_from: Type.Union([Type.String(), Type.Null()]),
  replaced_by: Type.Union([Type.String(), Type.Null()], {
    description: 'Set once a rotation replaced this key: it is retiring — it works until `expires_at` (the grace end) but can no longer mint, rotate or revoke keys (403 `KEY_RETIRING`).',
  }),
  approval_required: Type.Boolean({
    description: 'Every gated action and every DELETE this key attempts waits for a human approval (202 `pending_approval`); it can never decide an approval. The key to give an AI agent.',
  }),
});
export type OrgToken = Static<typeof OrgToken>;

/** The one response shape that carries a plaintext key: the mint (and rotate) response. */
export const MintedOrgToken = Type.Object({
  ...OrgToken.properties,
  // The plaintext appears here and nowhere else; it is not stored and cannot be shown again.
  auth_token: Type.String({ description: 'The key itself. Shown once.' }),
  warning: Type.Literal('copy this token now; it will not be shown again'),
});
export type MintedOrgToken = Static<typeof MintedOrgToken>;

export const MINT_WARNING = 'copy this token now; it will not be shown again' as const;
