import { Type, type Static } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { displayUserCode, hashUserCode, normalizeUserCode, USER_CODE_INPUT_PATTERN } from '../codes.js';
import { limitCodeGuessing } from '../service.js';
import { findPendingByUserCode } from '../store.js';

export const UserCodeInput = Type.String({ pattern: USER_CODE_INPUT_PATTERN, 'x-error': 'must be the 8-letter code your device shows, like BCDF-GHJK' });

export const DevicePendingQuery = Type.Object({ user_code: UserCodeInput }, { additionalProperties: false });
export type DevicePendingQuery = Static<typeof DevicePendingQuery>;

/** What is asking: never the device code (the polling client's secret), never the code's hash. */
export const PendingDeviceAuthorization = Type.Object(
  {
    user_code: Type.String({ description: 'The code, as the device shows it (`BCDF-GHJK`).' }),
    client_name: Type.String({ description: 'What the client calls itself (the CLI: `cli:<host>`).' }),
    client_ip: Type.Union([Type.String(), Type.Null()], { description: 'The address the code was requested from.' }),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { title: 'PendingDeviceAuthorization' },
);
export type PendingDeviceAuthorization = Static<typeof PendingDeviceAuthorization>;

/** A typed code to its normalized form; one that cannot be a code at all is the same 400 as an unknown one. */
export function normalizedOrInvalid(typed: string): string {
  const normalized = normalizeUserCode(typed);
  if (normalized === null) throw new DomainError('DEVICE_USER_CODE_INVALID');
  return normalized;
}

/**
 * The console's approval page (`/device`, RFC 8628 §3.3) asks what a code stands for before the user decides.
 * Looking a code up tells whether it is live, so it counts against the same guessing limits as the no-JS page.
 */
export default function devicePendingRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/device/pending',
    {
      schema: {
        operationId: 'getPendingDeviceAuthorization',
        tags: ['auth'],
        summary: 'What a device code asks for: client, address, when, expiry (the console’s /device page)',
        description:
          'For the signed-in user about to approve or deny a device authorization (`molecule auth login`). Never returns the device code. ' +
          'An unknown, expired or already decided code is 400 DEVICE_USER_CODE_INVALID. Each look-up counts against DEVICE_VERIFY_LIMIT per 15 minutes, per user and per client address.',
        security: [{ session: [] }],
        querystring: DevicePendingQuery,
        response: { 200: PendingDeviceAuthorization, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'DEVICE_USER_CODE_INVALID', 'RATE_LIMITED') },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      await limitCodeGuessing(ctx, request, reply, principal.userId);
      const normalized = normalizedOrInvalid(request.query.user_code);
      const pending = await findPendingByUserCode(ctx.db, hashUserCode(normalized), new Date());
      if (!pending) throw new DomainError('DEVICE_USER_CODE_INVALID');
      return {
        user_code: displayUserCode(normalized),
        client_name: pending.client_name,
        client_ip: pending.client_ip,
        created_at: new Date(pending.created_at).toISOString(),
        expires_at: new Date(pending.expires_at).toISOString(),
      };
    },
  );
}
