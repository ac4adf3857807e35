import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { RuntimeImagePin } from './promote-runtime-image.js';

export default function listRuntimeImagesRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/runtime-image',
    {
      schema: {
        operationId: 'adminListRuntimeImages',
        tags: ['admin'],
        summary: 'The runtime-image pins, and the build this control plane can run',
        description:
          'For local processes the "image" is this build of the runtime: `available.digest` is `sha256:` over its built entry files (bin/molecule-platform.js, then runtime/main.js; each preceded by its byte length and a newline).',
        security: [{ cpAdmin: [] }],
        response: {
          200: Type.Object({ pins: Type.Array(RuntimeImagePin), available: Type.Object({ digest: Type.String() }) }),
          ...errorResponses(...ADMIN_ERRORS),
        },
      },
    },
    async () => {
      const rows = await ctx.db.selectFrom('runtime_image_pins').selectAll().orderBy('template').execute();
      return {
        pins: rows.map((r) => ({ template: r.template, digest: r.digest, promoted_by: r.promoted_by, promoted_at: new Date(r.promoted_at).toISOString() })),
        available: { digest: ctx.workspaces.availableDigest() },
      };
    },
  );
}
