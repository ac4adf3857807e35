import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { PARTNER_KEY_ERRORS } from '../errors.js';
import { MintedPartnerKey, MintPartnerKeyRequest } from '../schemas.js';
import { mintPartnerKey } from '../service.js';

export default function mintPartnerKeyRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/partner-keys',
    {
      schema: {
        operationId: 'mintPartnerKey',
        tags: ['partner-keys'],
        summary: 'Mint a partner API key (`mol_pk_live_…`, shown once)',
        description:
          'By the CP admin bearer (`partner_id` required), or by a partner key holding `admin:keys`: for its own partner only, and never wider than ' +
          'itself — its scopes, org binding, expiry and rate limit (403 KEY_TOO_WIDE). `org_id` binds the key to one of the partner’s orgs. ' +
          'An unknown scope is 400 listing the valid ones. The key appears in this response only; it is stored as its sha256.',
        security: [{ cpAdmin: [] }, { partnerKey: [] }],
        body: MintPartnerKeyRequest,
        response: { 201: MintedPartnerKey, ...errorResponses(...ADMIN_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'KEY_TOO_WIDE', 'ORG_NOT_FOUND') },
      },
      config: { partnerScope: 'admin:keys' },
    },
    async (request, reply) => {
      const minted = await mintPartnerKey(ctx, request.principal!, request.body, auditEventForReply(reply, 201));
      request.auditWritten = true;
      // The plaintext key leaves the server here, and only here.
      return reply.code(201).send(minted);
    },
  );
}
