import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { DEVICE_CODE_TTL_SECONDS, DEVICE_POLL_INTERVAL_SECONDS, issueDeviceCode } from '../service.js';

export const DeviceCodeRequest = Type.Object(
  {
    client_name: Text({
      minLength: 1,
      maxLength: 100,
      pattern: '^[\\x20-\\x7e]+$',
      description: 'What the client calls itself, shown on the approval page (the CLI sends `cli:<host>`).',
      'x-error': 'must be 1-100 printable ASCII characters',
    }),
  },
  { additionalProperties: false },
);
export type DeviceCodeRequest = Static<typeof DeviceCodeRequest>;

export const DeviceCodeResponse = Type.Object({
  // The device code is a secret of the polling client: this is the only response that carries it.
  device_code: Type.String({ description: 'Opaque; send it to POST /auth/device/token. Shown once; only its hash is stored.' }),
  user_code: Type.String({ pattern: '^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$', description: 'What the user enters on the approval page.' }),
  verification_uri: Type.String({ format: 'uri', description: 'The approval page (`<PUBLIC_URL>/device`).' }),
  verification_uri_complete: Type.String({ format: 'uri', description: 'The approval page with the user code filled in.' }),
  expires_in: Type.Integer({ description: `Seconds the codes live (${DEVICE_CODE_TTL_SECONDS}).` }),
  interval: Type.Integer({ description: `Seconds to wait between polls (${DEVICE_POLL_INTERVAL_SECONDS}).` }),
});
export type DeviceCodeResponse = Static<typeof DeviceCodeResponse>;

const HOUR_MS = 3600_000;

export default function deviceCodeRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/device/code',
    {
      schema: {
        operationId: 'requestDeviceCode',
        tags: ['auth'],
        summary: 'Start a device authorization (RFC 8628)',
        description:
          'A client without a browser (the `molecule` CLI over SSH, in a container) asks for a device code and a user code, shows the user code and ' +
          'the verification URI, and polls POST /auth/device/token while a signed-in user approves it on the `/device` page. ' +
          'Only hashes of the codes are stored; they expire after 15 minutes. Rate-limited per client address (DEVICE_CODE_LIMIT per hour).',
        body: DeviceCodeRequest,
        response: { 200: DeviceCodeResponse, ...errorResponses('VALIDATION_FAILED', 'RATE_LIMITED', 'platform_unavailable') },
      },
    },
    async (request, reply) => {
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-device-code:${request.ip}`, ctx.config.DEVICE_CODE_LIMIT, HOUR_MS);
      return issueDeviceCode(ctx, request.body.client_name, request.ip);
    },
  );
}
