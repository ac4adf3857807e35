import { sql } from 'kysely';
import { Type, type Static } from 'typebox';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { Digest, RuntimeName } from '../schemas.js';

export const RuntimeImagePin = Type.Object({
  template: Type.String({ description: 'The runtime (template) the pin is for: the `runtime` of POST /workspaces/provision.' }),
  digest: Type.String(),
  promoted_by: Type.String(),
  promoted_at: Type.String({ format: 'date-time' }),
});

export const PromoteRuntimeImageRequest = Type.Object({ template: RuntimeName, digest: Digest }, { additionalProperties: false });
export type PromoteRuntimeImageRequest = Static<typeof PromoteRuntimeImageRequest>;

export default function promoteRuntimeImageRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/runtime-image/promote',
    {
      schema: {
        operationId: 'adminPromoteRuntimeImage',
        tags: ['admin'],
        summary: 'Pin the runtime build a template (workspace runtime) runs',
        description:
          'Only the build this control plane can run is accepted (`available.digest` of GET /admin/runtime-image); any other digest is 400 naming `digest`, so a pin always names something runnable. ' +
          'Promoting again replaces the pin.',
        security: [{ cpAdmin: [] }],
        body: PromoteRuntimeImageRequest,
        response: { 200: RuntimeImagePin, ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED') },
      },
    },
    async (request) => {
      const { template, digest } = request.body;
      const available = ctx.workspaces.availableDigest();
      if (digest !== available) throw new ValidationError(`digest: not a runtime build this control plane can run (available: ${available})`, { fields: ['digest'], field: 'digest', available });
      const row = await ctx.db
        .insertInto('runtime_image_pins')
        .values({ template, digest, promoted_by: 'cp-admin' })
        .onConflict((oc) => oc.column('template').doUpdateSet({ digest, promoted_by: 'cp-admin', promoted_at: sql<Date>`now()` }))
        .returningAll()
        .executeTakeFirstOrThrow();
      return { template: row.template, digest: row.digest, promoted_by: row.promoted_by, promoted_at: new Date(row.promoted_at).toISOString() };
    },
  );
}
