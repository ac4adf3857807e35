import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../../core/ids.js';
import { WORKSPACE_STATUSES, type WorkspaceStatus } from '../db/schema.js';

export const WorkspaceId = Type.String({ pattern: UUID_PATTERN, description: 'Workspace UUID.', 'x-error': 'must be a workspace UUID' });
export const WorkspaceIdParams = Type.Object({ id: WorkspaceId });

export const WorkspaceStatusSchema = Type.Unsafe<WorkspaceStatus>(Type.Union(WORKSPACE_STATUSES.map((s) => Type.Literal(s))));

export const Workspace = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  role: Type.Union([Type.String(), Type.Null()]),
  tier: Type.Integer(),
  status: WorkspaceStatusSchema,
  runtime: Type.String(),
  template: Type.Union([Type.String(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  parent_id: Type.Union([Type.String(), Type.Null()]),
  url: Type.String(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  removed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  external: Type.Boolean(),
  delivery_mode: Type.String(),
  workspace_dir: Type.Union([Type.String(), Type.Null()]),
  workspace_access: Type.String(),
  budget_limit: Type.Union([Type.Integer(), Type.Null()]),
  monthly_spend: Type.Integer(),
  max_concurrent_tasks: Type.Integer(),
  active_tasks: Type.Integer(),
  uptime_seconds: Type.Integer(),
  current_task: Type.Union([Type.String(), Type.Null()]),
  last_error_rate: Type.Number(),
  last_heartbeat_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  restart_count: Type.Integer({ description: 'Unexpected runtime exits so far.' }),
  process: Type.Union(
    [
      Type.Object({
        pid: Type.Union([Type.Integer(), Type.Null()]),
        running: Type.Boolean(),
        uptime_seconds: Type.Integer(),
        rss_bytes: Type.Union([Type.Integer(), Type.Null()]),
        restarts: Type.Integer(),
        last_exit: Type.Union([
          Type.Object({ code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String(), Type.Null()]), at: Type.String({ format: 'date-time' }) }),
          Type.Null(),
        ]),
      }),
      Type.Null(),
    ],
    { description: 'The runtime process on this machine (local provisioner), or null.' },
  ),
});
export type Workspace = Static<typeof Workspace>;
