import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { pollDeviceToken } from '../service.js';

/** RFC 8628 §3.4. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

export const DeviceTokenRequest = Type.Object(
  {
    device_code: Text({ minLength: 1, maxLength: 256, description: 'The device code POST /auth/device/code answered.' }),
    grant_type: Type.Literal(DEVICE_CODE_GRANT_TYPE, { 'x-error': `must be ${DEVICE_CODE_GRANT_TYPE}` }),
  },
  { additionalProperties: false },
);
export type DeviceTokenRequest = Static<typeof DeviceTokenRequest>;

export const DeviceTokenResponse = Type.Object({
  // A fresh CP session: this response is the one place its plaintext appears (a browser gets it as a cookie instead).
  access_token: Type.String({ description: 'A CP session (`mols_…`), the same kind as the `mcp_session` cookie: send it as that cookie.' }),
  token_type: Type.Literal('session'),
  expires_in: Type.Integer({ description: 'Seconds until the session ends (SESSION_TTL_HOURS).' }),
  org_slug: Type.Union([Type.String(), Type.Null()], { description: 'The org the user picked on the approval page, if any.' }),
  user: Type.Object({ id: Type.String(), email: Type.String() }),
});
export type DeviceTokenResponse = Static<typeof DeviceTokenResponse>;

const MINUTE_MS = 60_000;

export default function deviceTokenRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/device/token',
    {
      schema: {
        operationId: 'exchangeDeviceCode',
        tags: ['auth'],
        summary: 'Poll for the session a device authorization grants (RFC 8628)',
        description:
          'Until the user decides: 400 with `error` `authorization_pending` (code DEVICE_AUTHORIZATION_PENDING), or `slow_down` (DEVICE_SLOW_DOWN) ' +
          'when polled sooner than `interval` after the previous poll; each slow_down adds 5 s to the interval (the body says the new `interval`). ' +
          'Denied: `access_denied` (DEVICE_ACCESS_DENIED). Expired, unknown or already exchanged: `expired_token` (DEVICE_CODE_EXPIRED). ' +
          'Approved: 200 with a new CP session for the approving user; the device code is used up. Rate-limited per client address (DEVICE_TOKEN_POLL_LIMIT per minute).',
        body: DeviceTokenRequest,
        response: { 200: DeviceTokenResponse, ...errorResponses('VALIDATION_FAILED', 'DEVICE_AUTHORIZATION_PENDING', 'RATE_LIMITED', 'platform_unavailable') },
      },
    },
    async (request, reply) => {
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-device-token:${request.ip}`, ctx.config.DEVICE_TOKEN_POLL_LIMIT, MINUTE_MS);
      return pollDeviceToken(ctx, request, reply, request.body.device_code);
    },
  );
}
