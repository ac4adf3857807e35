import { Type, type Static } from 'typebox';
import { idPattern } from '../../core/ids.js';
import { MEMBER_ROLES, type MemberRole } from '../db/schema.js';
import { MemberRoleSchema, Slug } from '../orgs/schemas.js';
import { Text } from '../../core/http/input.js';

/**
 * A member's user id as it appears in `org_members`: a user id (`usr_…`) or the opaque owner id an admin-created
 * org was given (`e2e-runner:<slug>`), so the same rule as the admin create-org body (every member can be named).
 */
export const MemberUserId = Text({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000-\\u001f\\u007f\\s]+$',
  'x-error': 'must be a user id: 1-200 characters without spaces or control characters',
});

export const InvitationId = Type.String({ pattern: idPattern('invitation'), 'x-error': 'must be an invitation id (inv_…)' });

/**
 * A role in a request body. One `enum` rather than a union of literals, so a wrong value is reported as
 * "role must be one of owner, admin, member" instead of the validator's per-branch wording.
 */
export function roleInput(description?: string) {
  return Type.Unsafe<MemberRole>({ type: 'string', enum: [...MEMBER_ROLES], 'x-error': `must be one of ${MEMBER_ROLES.join(', ')}`, ...(description ? { description } : {}) });
}

export const MemberParams = Type.Object({ slug: Slug, user_id: MemberUserId });
export const InvitationParams = Type.Object({ slug: Slug, id: InvitationId });

export const Member = Type.Object(
  {
    user_id: Type.String(),
    role: MemberRoleSchema,
    email: Type.Union([Type.String({ description: 'Null for an opaque owner id that is not a user account.' }), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    joined_at: Type.String({ format: 'date-time' }),
    invited_by: Type.Union([Type.String({ description: 'The user id of whoever invited them; null for the org’s creator.' }), Type.Null()]),
  },
  { title: 'Member' },
);
export type Member = Static<typeof Member>;

export const MemberList = Type.Object({ members: Type.Array(Member), count: Type.Integer({ minimum: 0 }) });

/** A pending invitation as listed: never the token, never its hash; `prefix` tells invitations apart. */
export const Invitation = Type.Object(
  {
    id: Type.String(),
    org_slug: Type.String(),
    role: MemberRoleSchema,
    email: Type.Union([Type.String({ description: 'Only a user with this email can accept; null means whoever holds the token.' }), Type.Null()]),
    prefix: Type.String({ description: 'The first 13 characters of the invite token.' }),
    expires_at: Type.String({ format: 'date-time' }),
    invited_by: Type.String({ description: 'The user id of the inviter.' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Invitation' },
);
export type Invitation = Static<typeof Invitation>;

export const InvitationList = Type.Object({ invitations: Type.Array(Invitation), count: Type.Integer({ minimum: 0 }) });
