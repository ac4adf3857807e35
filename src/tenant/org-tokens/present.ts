import type { OrgToken } from './schemas.js';
import type { OrgTokenRow } from './store.js';

export function presentOrgToken(row: OrgTokenRow): OrgToken {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    workspace_ids: row.workspace_ids,
    expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    created_by: row.created_by,
    created_at: new Date(row.created_at).toISOString(),
    last_used_at: row.last_used_at ? new Date(row.last_used_at).toISOString() : null,
    rotated_from: row.rotated_from,
    replaced_by: row.replaced_by,
    approval_required: row.approval_required,
  };
}
