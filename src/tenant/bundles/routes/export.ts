import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { BundleExport } from '../schemas.js';
import { exportBundle } from '../service.js';

/**
 * Every way of not finding what to export is one answer, as the reference's (§3.13): a malformed id, a missing
 * workspace, and a workspace a bound key cannot see (refused by the tier's hook, before the handler). Auth
 * failures and outages keep their own answers.
 */
function notFoundAsBundle(err: FastifyError | Error, _request: FastifyRequest, _reply: FastifyReply): never {
  const hidden = err instanceof DomainError ? err.code === 'WORKSPACE_NOT_FOUND' : (err as FastifyError).validation !== undefined;
  // Thrown on: the app's error handler (the parent) answers it in the one error body.
  throw hidden ? new DomainError('BUNDLE_NOT_FOUND') : err;
}

export default function exportBundleRoute(app: App, ctx: TenantContext) {
  app.get(
    '/bundles/export/:id',
    {
      config: { minRole: 'reader' },
      errorHandler: notFoundAsBundle,
      schema: {
        operationId: 'exportBundle',
        tags: ['bundles'],
        summary: 'Export a workspace as a bundle',
        description:
          'The workspace (even if removed, as the reference) with its files, skills and metadata, and its live sub-workspaces as nested bundles (only those a bound key can see). Secrets, tokens and memory are never exported. Any workspace not found — a malformed id included — is 404 `bundle not found`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: Type.Object({ id: Text({ minLength: 1, maxLength: 200, description: 'Workspace UUID.' }) }),
        response: { 200: BundleExport, ...errorResponses(...AUTH_ERRORS, 'BUNDLE_NOT_FOUND', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => exportBundle(ctx.db, request.principal!, request.params.id),
  );
}
