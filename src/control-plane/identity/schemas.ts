import { Type, type Static } from 'typebox';
import { Text } from '../../core/http/input.js';

export const Email = Type.String({ format: 'email', maxLength: 254, 'x-error': 'must be an email address' });
/** Long passphrases are welcome; the cap only bounds the hashing work one request can cause. */
export const Password = Text({ minLength: 10, maxLength: 256, 'x-error': { minLength: 'password must be at least 10 characters', maxLength: 'password must be at most 256 characters' } });
export const DisplayName = Text({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$', 'x-error': 'must be 1-100 characters without control characters' });

export const CurrentUser = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean({
    description: 'Whether the address is proven (a verification link, or the identity provider said so). Only a verified address can accept an invitation bound to it.',
  }),
});
export type CurrentUser = Static<typeof CurrentUser>;

export const SignedIn = Type.Object({
  ...CurrentUser.properties,
  expires_at: Type.String({ format: 'date-time', description: 'When this sign-in ends; the session cookie expires with it.' }),
});

/** Where to go after sign-in: a path on this site or a URL on it or on a tenant host, never elsewhere. */
export const ReturnTo = Text({ maxLength: 2048 });
