import { Type, type Static } from 'typebox';
import { MEMBER_ROLES, ORG_STATUSES, PLAN_IDS, type MemberRole, type OrgStatus, type PlanId } from '../db/schema.js';
import { Text } from '../../core/http/input.js';

/** A closed string union as one schema, keeping its TypeScript literal type. */
export function literalUnion<T extends string>(values: readonly T[], options: Record<string, unknown> = {}) {
  return Type.Unsafe<T>(Type.Union(values.map((v) => Type.Literal(v)), options));
}

/** Reference §1: 3–32 characters, a lowercase letter first, then lowercase letters, digits and hyphens. */
export const SLUG_PATTERN = '^[a-z][a-z0-9-]{2,31}$';
export const Slug = Type.String({
  pattern: SLUG_PATTERN,
  'x-error': 'must be 3-32 characters: a lowercase letter, then lowercase letters, digits or hyphens',
  description: 'Lowercase, 3–32 characters; becomes the tenant host name. Cannot change after create.',
});

export const MemberRoleSchema = literalUnion<MemberRole>(MEMBER_ROLES, { 'x-error': `must be one of ${MEMBER_ROLES.join(', ')}` });
export const PlanSchema = literalUnion<PlanId>(PLAN_IDS, { 'x-error': `must be one of ${PLAN_IDS.join(', ')}` });

/**
 * Leading spaces, then one character that is neither space nor control, then anything but control characters. Each
 * step's characters are disjoint from the next one's, so the match never backtracks more than once per character:
 * the earlier `[^ctl]*\S[^ctl]*` could split a run of text every which way (quadratic — 9.9 s for a 120 KB name,
 * issue 7 item 3) and let one control character through as its `\S`.
 */
export const ORG_NAME_PATTERN = '^[^\\S\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$';
export const OrgName = Text({ minLength: 1, maxLength: 100, pattern: ORG_NAME_PATTERN, 'x-error': 'must be 1-100 characters, not blank, without control characters' });

export const Organization = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    slug: Type.String(),
    name: Type.String(),
    plan: literalUnion<PlanId>(PLAN_IDS),
    status: literalUnion<OrgStatus>(ORG_STATUSES),
    provider: Type.String(),
    is_canary: Type.Boolean(),
    credits_balance: Type.Integer(),
    plan_monthly_credits: Type.Integer(),
    overage_used_credits: Type.Integer(),
    overage_cap_credits: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    role: Type.Optional(literalUnion<MemberRole>(MEMBER_ROLES, { description: 'The caller’s role in this org (session routes).' })),
  },
  { $id: 'Organization', title: 'Organization' },
);
export type Organization = Static<typeof Organization>;

export const SlugParams = Type.Object({ slug: Slug });
