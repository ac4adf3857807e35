import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { Slug } from '../../orgs/schemas.js';
import { InvoiceSchema, presentInvoice } from '../schemas.js';
import { listInvoicesFor } from '../service.js';

export const ListInvoicesQuery = Type.Object({ org_slug: Type.Optional(Slug) }, { additionalProperties: false });
export type ListInvoicesQuery = Static<typeof ListInvoicesQuery>;

export default function listInvoicesRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/billing/invoices',
    {
      schema: {
        operationId: 'listInvoices',
        tags: ['billing'],
        summary: 'Invoices, newest first (org owners and admins)',
        description:
          'With `org_slug`: that org’s invoices (a member gets 403, anyone else 404). Without: the invoices of every org where the caller is an owner or admin. A bare array.',
        security: [{ session: [] }],
        querystring: ListInvoicesQuery,
        response: { 200: Type.Array(InvoiceSchema), ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN') },
      },
    },
    async (request) => {
      const invoices = await listInvoicesFor(ctx, request.principal as SessionPrincipal, request.query.org_slug);
      return invoices.map(presentInvoice);
    },
  );
}
