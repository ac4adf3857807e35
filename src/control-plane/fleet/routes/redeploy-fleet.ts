import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { FleetRedeployRequest, FleetRedeployResponse } from '../schemas.js';
import { EPHEMERAL_SLUG_PREFIXES, redeployFleet } from '../service.js';

export default function redeployFleetRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/tenants/redeploy-fleet',
    {
      schema: {
        operationId: 'adminRedeployFleet',
        tags: ['admin'],
        summary: 'Restart every running tenant: canary first, then batches, health-gated',
        description:
          '`confirm: true` is required (`{}`, `confirm: false` and `only_slugs: []` → 400). Candidates: orgs whose tenant is running, except ephemeral slugs ' +
          `(${EPHEMERAL_SLUG_PREFIXES.map((p) => `\`${p}*\``).join(', ')}), narrowed by \`only_slugs\`. The canary goes first, alone; if it fails the rest are \`skipped\`. ` +
          'Then batches of `batch_size` in parallel; a batch with more than `max_stragglers` failures halts the rollout. A tenant that does not answer /health after its restart has failed. ' +
          'Dry run: every candidate with `status: "DryRun"`, nothing done. A second rollout while one runs on this control plane → 409 CONFLICT. Some tenant failed → HTTP 500 with the same body (reference). 503 PROVISIONER_UNAVAILABLE (not in a dry run) when no provisioner runs tenants here.',
        security: [{ cpAdmin: [] }],
        body: FleetRedeployRequest,
        response: {
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'CONFLICT', 'PROVISIONER_UNAVAILABLE'),
          200: FleetRedeployResponse,
          500: { ...FleetRedeployResponse, description: 'Some tenant failed (or the rollout halted): the same body, `ok: false`.' },
        },
      },
    },
    async (request, reply) => {
      const result = await redeployFleet(ctx, request.body);
      return reply.code(result.ok ? 200 : 500).send(result);
    },
  );
}
