import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { TENANT_VERSION } from '../../version.js';

/** GET /buildinfo (reference §1): open and TenantGuard-allowlisted, like /health. */
export function buildInfoRoute(app: App, ctx: TenantContext) {
  app.get(
    '/buildinfo',
    {
      schema: {
        operationId: 'getBuildInfo',
        tags: ['meta'],
        summary: 'The build this tenant runs',
        description: 'Open, and allowlisted past TenantGuard like /health: `git_sha` is MOLECULE_GIT_SHA (`unknown` when unset).',
        security: [],
        response: { 200: Type.Object({ git_sha: Type.String(), version: Type.String() }) },
      },
    },
    async () => ({ git_sha: ctx.config.MOLECULE_GIT_SHA ?? 'unknown', version: TENANT_VERSION }),
  );
}

/** GET /org/identity (reference §1): open (TenantGuard still applies). */
export function orgIdentityRoute(app: App, ctx: TenantContext) {
  app.get(
    '/org/identity',
    {
      schema: {
        operationId: 'getOrgIdentity',
        tags: ['meta'],
        summary: 'The org this tenant serves: its display name',
        description: 'Open (TenantGuard still applies). `name` is MOLECULE_ORG_NAME, or "" when unset.',
        security: [],
        response: { 200: Type.Object({ name: Type.String() }) },
      },
    },
    async () => ({ name: ctx.config.MOLECULE_ORG_NAME ?? '' }),
  );
}

/** GET /admin/liveness (reference §1): every background loop's last tick. */
export function livenessRoute(app: App, ctx: TenantContext) {
  app.get(
    '/admin/liveness',
    {
      config: { minRole: 'reader', orgWide: true },
      schema: {
        operationId: 'getLiveness',
        tags: ['meta'],
        summary: 'The last tick of every background loop',
        description:
          'One entry per loop (lifecycle sweeper, last-used trackers, audit writer, event-stream re-verification, …): when it last completed a pass, and how long ago. A loop that has not completed one yet reports nulls.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: {
          200: Type.Object({
            subsystems: Type.Record(
              Type.String(),
              Type.Object({ last_tick_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), seconds_ago: Type.Union([Type.Integer(), Type.Null()]) }),
            ),
          }),
          ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED'),
        },
      },
    },
    async () => ({ subsystems: ctx.ticks.snapshot() }),
  );
}
