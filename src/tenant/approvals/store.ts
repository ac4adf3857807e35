import { sql, type Insertable, type Kysely } from 'kysely';
import type { ApprovalsTable, ApprovalStatus, TenantSchema } from '../db/schema.js';

/** Queries on approvals. Ids are `apr_` + ULID: "newest first" is `id desc`, and a page cursor is an id. */

export interface ApprovalRow {
  id: string;
  workspace_id: string | null;
  task_id: string;
  action: string;
  reason: string;
  context: Record<string, unknown>;
  request_hash: string | null;
  status: ApprovalStatus;
  requested_by: string;
  decided_by: string | null;
  decided_at: Date | null;
  expires_at: Date;
  consumed_at: Date | null;
  created_at: Date;
}

export type ApprovalWithName = ApprovalRow & { workspace_name: string | null };

const COLUMNS = [
  'approvals.id',
  'approvals.workspace_id',
  'approvals.task_id',
  'approvals.action',
  'approvals.reason',
  'approvals.context',
  'approvals.request_hash',
  'approvals.status',
  'approvals.requested_by',
  'approvals.decided_by',
  'approvals.decided_at',
  'approvals.expires_at',
  'approvals.consumed_at',
  'approvals.created_at',
] as const;

export type NewApproval = Omit<Insertable<ApprovalsTable>, 'created_at' | 'decided_by' | 'decided_at' | 'consumed_at' | 'status'>;

export async function insertApproval(db: Kysely<TenantSchema>, row: NewApproval): Promise<ApprovalRow> {
  return (await db.insertInto('approvals').values(row).returning(COLUMNS).executeTakeFirstOrThrow()) as ApprovalRow;
}

export async function findApproval(db: Kysely<TenantSchema>, id: string, opts: { lock?: boolean } = {}): Promise<ApprovalWithName | undefined> {
  if (opts.lock) {
    const row = await db.selectFrom('approvals').select(COLUMNS).where('approvals.id', '=', id).forUpdate().executeTakeFirst();
    return row ? ({ ...row, workspace_name: null } as ApprovalWithName) : undefined;
  }
  return (await db
    .selectFrom('approvals')
    .leftJoin('workspaces', 'workspaces.id', 'approvals.workspace_id')
    .select([...COLUMNS, 'workspaces.name as workspace_name'])
    .where('approvals.id', '=', id)
    .executeTakeFirst()) as ApprovalWithName | undefined;
}

export async function listWorkspaceApprovals(db: Kysely<TenantSchema>, workspaceId: string, opts: { limit: number; before?: string | undefined }): Promise<ApprovalRow[]> {
  let q = db.selectFrom('approvals').select(COLUMNS).where('approvals.workspace_id', '=', workspaceId);
  if (opts.before) q = q.where('approvals.id', '<', opts.before);
  return (await q.orderBy('approvals.id', 'desc').limit(opts.limit).execute()) as ApprovalRow[];
}

/**
 * Pending and not yet expired, across the tenant, with the workspace's name (reference `/approvals/pending`).
 * `workspaceIds` confines a bound key to its workspaces (org-wide approvals are then out of its sight).
 */
export async function listPendingApprovals(
  db: Kysely<TenantSchema>,
  opts: { limit: number; before?: string | undefined; workspaceIds: readonly string[] | null },
): Promise<ApprovalWithName[]> {
  let q = db
    .selectFrom('approvals')
    .leftJoin('workspaces', 'workspaces.id', 'approvals.workspace_id')
    .select([...COLUMNS, 'workspaces.name as workspace_name'])
    .where('approvals.status', '=', 'pending')
    .where('approvals.expires_at', '>', sql<Date>`now()`);
  if (opts.workspaceIds !== null) {
    if (opts.workspaceIds.length === 0) return [];
    q = q.where('approvals.workspace_id', 'in', [...opts.workspaceIds]);
  }
  if (opts.before) q = q.where('approvals.id', '<', opts.before);
  return (await q.orderBy('approvals.id', 'desc').limit(opts.limit).execute()) as ApprovalWithName[];
}

/**
 * Decides a pending, unexpired approval. An approved gate approval gets a fresh window (`ttlSeconds`) to be used in:
 * the requester retries after the decision, not after the request.
 */
export async function decideApprovalRow(
  db: Kysely<TenantSchema>,
  id: string,
  decision: 'approved' | 'denied',
  decidedBy: string,
  ttlSeconds: number,
): Promise<ApprovalRow | undefined> {
  return (await db
    .updateTable('approvals')
    .set({
      status: decision,
      decided_by: decidedBy,
      decided_at: sql<Date>`now()`,
      ...(decision === 'approved' ? { expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds})` } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(COLUMNS)
    .executeTakeFirst()) as ApprovalRow | undefined;
}

export async function withdrawApprovalRow(db: Kysely<TenantSchema>, id: string, by: string): Promise<boolean> {
  const res = await db
    .updateTable('approvals')
    .set({ status: 'withdrawn', decided_by: by, decided_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Uses an approved, unexpired gate approval for exactly this request, once. One statement: of concurrent retries,
 * the row lock and the re-checked `status = 'approved'` let exactly one of them through; the others see no row.
 */
export async function consumeApproved(db: Kysely<TenantSchema>, requestHash: string): Promise<string | undefined> {
  const row = await db
    .updateTable('approvals')
    .set({ status: 'consumed', consumed_at: sql<Date>`now()` })
    .where('status', '=', 'approved')
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('id', '=', (eb) =>
      eb
        .selectFrom('approvals')
        .select('id')
        .where('request_hash', '=', requestHash)
        .where('status', '=', 'approved')
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', sql<Date>`now()`)
        .orderBy('id')
        .limit(1),
    )
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/** A still-pending approval for the same request: a repeated gated request is one approval, not many. */
export async function findPendingByHash(db: Kysely<TenantSchema>, requestHash: string): Promise<ApprovalRow | undefined> {
  return (await db
    .selectFrom('approvals')
    .select(COLUMNS)
    .where('request_hash', '=', requestHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()) as ApprovalRow | undefined;
}

/** The workspace (live) and its parent, for the REQUESTED / ESCALATED events. */
export async function liveWorkspaceParent(db: Kysely<TenantSchema>, workspaceId: string): Promise<{ parent_id: string | null } | undefined> {
  return db.selectFrom('workspaces').select('parent_id').where('id', '=', workspaceId).where('status', '<>', 'removed').forShare().executeTakeFirst();
}
