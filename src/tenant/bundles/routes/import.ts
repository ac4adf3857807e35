import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { assertWithinLimits, BUNDLE_LIMITS } from '../sanitise.js';
import { BundleImportRequest, BundleImportResult, type BundleNode } from '../schemas.js';
import { importBundle } from '../service.js';
import { validateSubBundles } from '../plan.js';

/** A body that is not JSON says what the reference says (§3.13): `invalid bundle`; the detail keeps the reason. */
function invalidJsonAsBundle(err: FastifyError | Error, _request: FastifyRequest, _reply: FastifyReply): never {
  if (err instanceof DomainError && err.code === 'INVALID_JSON') throw new DomainError('INVALID_JSON', 'invalid bundle', { detail: err.message });
  throw err;
}

export default function importBundleRoute(app: App, ctx: TenantContext) {
  app.post(
    '/bundles/import',
    {
      config: { minRole: 'editor', orgWide: true, validationError: 'invalid bundle' },
      bodyLimit: BUNDLE_LIMITS.bodyBytes,
      errorHandler: invalidJsonAsBundle,
      // The size limits before any schema: one iterative pass, so no validator ever walks a tree beyond them. Then
      // each nested node against the node schema, so an error names its field within the tree.
      preValidation: async (request) => {
        assertWithinLimits(request.body);
        validateSubBundles(request.body);
      },
      schema: {
        operationId: 'importBundle',
        tags: ['bundles'],
        summary: 'Import a bundle as new workspaces',
        description:
          'Creates one workspace per node (sub_workspaces under their parent) with its files and metadata, in one transaction, after checking the whole tree: a bad field, skill id or file path is 400 naming it, a limit 413, and nothing is created. Their runtimes then start as for POST /workspaces. No workspace token is returned (as the reference): mint one with POST /workspaces/:id/tokens.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: BundleImportRequest,
        response: {
          201: BundleImportResult,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_JSON', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const result = await importBundle(ctx, request.principal!, request.body as BundleNode, auditEventForReply(reply, 201));
      request.auditWritten = true;
      return reply.code(201).send(result);
    },
  );
}
