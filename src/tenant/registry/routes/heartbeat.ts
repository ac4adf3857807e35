import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import { recordReportedSpend } from '../../budgets/store.js';
import type { TenantContext } from '../../context.js';
import { authenticateRuntime } from '../auth.js';
import { INT4_MAX, Text } from '../../../core/http/input.js';

export const HeartbeatRequest = Type.Object(
  {
    workspace_id: Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be a workspace UUID' }),
    error_rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    sample_error: Type.Optional(Type.Union([Text({ maxLength: 4000 }), Type.Null()])),
    active_tasks: Type.Optional(Type.Integer({ minimum: 0, maximum: INT4_MAX })),
    uptime_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: INT4_MAX })),
    current_task: Type.Optional(Type.Union([Text({ maxLength: 4000 }), Type.Null()])),
    monthly_spend: Type.Optional(Type.Number({ minimum: 0, description: 'Cumulative spend this month, in USD cents.' })),
    runtime_state: Type.Optional(Text({ maxLength: 64 })),
  },
  { additionalProperties: true, description: 'Unknown fields are ignored: runtimes of other versions may send more.' },
);

export default function heartbeatRoute(app: App, ctx: TenantContext) {
  app.post(
    '/registry/heartbeat',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'runtimeHeartbeat',
        tags: ['registry'],
        summary: 'A workspace runtime reports it is alive (its own token only)',
        description: 'Allowlisted by TenantGuard. Refreshes liveness; an offline workspace that heartbeats is online again; error_rate ≥ 0.5 → degraded.',
        security: [{ workspaceToken: [] }],
        body: HeartbeatRequest,
        response: {
          200: Type.Object({ status: Type.Literal('ok') }),
          ...errorResponses('VALIDATION_FAILED', 'WORKSPACE_AUTH_REQUIRED', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_NOT_FOUND', 'platform_unavailable'),
        },
      },
    },
    async (request) => {
      const b = request.body;
      const id = b.workspace_id.toLowerCase();
      await authenticateRuntime(ctx, request, id);
      await ctx.lifecycle.heartbeat(id, {
        errorRate: b.error_rate ?? 0,
        activeTasks: b.active_tasks ?? 0,
        uptimeSeconds: b.uptime_seconds ?? 0,
        currentTask: b.current_task ?? null,
        sampleError: b.sample_error ?? null,
      });
      if (b.monthly_spend !== undefined) {
        const exceeded = await recordReportedSpend(ctx.db, id, Math.round(b.monthly_spend));
        // After commit; channels deliver it (the default events of a channel include it).
        if (exceeded.length > 0) await ctx.events.recordAfterCommit('BUDGET_EXCEEDED', id, { message: `budget exceeded: ${exceeded.map((e) => `${e.period} ${e.spend}/${e.limit} cents`).join(', ')}`, periods: exceeded });
      }
      return { status: 'ok' as const };
    },
  );
}
