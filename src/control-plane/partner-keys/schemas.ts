import { Type, type Static } from 'typebox';
import { Text } from '../../core/http/input.js';
import { idPattern } from '../../core/ids.js';
import { ORG_NAME_PATTERN } from '../orgs/schemas.js';
import { PARTNER_SCOPES } from './scopes.js';

/** A partner's id: chosen by the CP admin at the partner's first key (`acme-reseller`), then carried by every key. */
export const PARTNER_ID_PATTERN = '^[a-z0-9][a-z0-9\\._-]{0,63}$';
export const PartnerId = Type.String({
  pattern: PARTNER_ID_PATTERN,
  'x-error': 'must be 1-64 characters: lowercase letters, digits, dots, underscores or hyphens, starting with a letter or digit',
  description: 'The partner the key acts for; every org its keys create is this partner’s.',
});

export const MAX_EXPIRES_IN_DAYS = 3650;
export const MAX_RATE_LIMIT = 100_000;
export const DEFAULT_RATE_LIMIT = 60;

export const MintPartnerKeyRequest = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 100, pattern: ORG_NAME_PATTERN, 'x-error': 'must be 1-100 characters, not blank, without control characters' }),
    partner_id: Type.Optional(PartnerId),
    scopes: Type.Array(Text({ minLength: 1, maxLength: 32 }), {
      minItems: 1,
      maxItems: PARTNER_SCOPES.length,
      description: `What the key may do (any of: ${PARTNER_SCOPES.join(', ')}). An unknown scope is 400 listing the valid ones.`,
    }),
    org_id: Type.Optional(
      Type.Union([Type.String({ format: 'uuid', 'x-error': 'must be an org id (UUID) or null' }), Type.Null()], {
        description: 'Bind the key to one of the partner’s orgs; null or absent: every org of the partner.',
      }),
    ),
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN_DAYS, description: 'Absent: never (a key minted by a partner key inherits its expiry).' })),
    rate_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RATE_LIMIT, description: `Requests per minute for this key alone (default ${DEFAULT_RATE_LIMIT}).` })),
  },
  { additionalProperties: false },
);
export type MintPartnerKeyRequest = Static<typeof MintPartnerKeyRequest>;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** A partner key as every read shows it: never the key, never its hash. */
const PARTNER_KEY_FIELDS = {
    id: Type.String({ pattern: idPattern('partnerKey') }),
    name: Type.String(),
    key_prefix: Type.String({ description: 'The first 16 characters (`mol_pk_live_xxxx`): enough to tell keys apart, not to use one.' }),
    partner_id: Type.String(),
    org_id: Nullable(Type.String({ format: 'uuid' })),
    scopes: Type.Array(Type.String()),
    rate_limit: Type.Integer(),
    created_by: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Nullable(Type.String({ format: 'date-time' })),
    revoked_at: Nullable(Type.String({ format: 'date-time' })),
    last_used_at: Nullable(Type.String({ format: 'date-time', description: 'Written behind, in batches: up to a few seconds late.' })),
};
export const PartnerKey = Type.Object(PARTNER_KEY_FIELDS, { $id: 'PartnerKey', title: 'PartnerKey' });
export type PartnerKey = Static<typeof PartnerKey>;

/** The mint response: the one place the plaintext key appears (shown once). */
export const MintedPartnerKey = Type.Object({ ...PARTNER_KEY_FIELDS, key: Type.String({ description: 'The key itself (`mol_pk_live_…`). Shown once: store it now.' }) });

export const PartnerKeyParams = Type.Object({
  id: Type.String({ pattern: idPattern('partnerKey'), 'x-error': 'must be a partner key id (pak_…)' }),
});

export const ListPartnerKeysQuery = Type.Object({
  partner_id: Type.Optional(PartnerId),
  include_revoked: Type.Optional(Type.Boolean({ default: false })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
