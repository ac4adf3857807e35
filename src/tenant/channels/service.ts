import type { Kysely, Transaction } from 'kysely';
import { appendAuditEvents, type AuditEventInput } from '../../core/audit/chain.js';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import { DomainError } from '../../core/errors.js';
import { newUuid } from '../../core/ids.js';
import type { TenantSchema } from '../db/schema.js';
import { maskConfig, validateConfig, type ChannelType } from './formats.js';
import type { NetworkPolicy } from './network.js';
import { deleteChannel, getChannel, insertChannel, listChannels, listDeliveries, openConfig, sealConfig, type ChannelRow } from './store.js';

/**
 * Channel writes: validated whole before anything is written, the row and its audit event in one transaction. The
 * config is sealed (AES-256-GCM, bound to the channel id) and its masked form kept beside it, so reads never decrypt.
 */

type Db = Kysely<TenantSchema>;

/** What a channel delivers when it names no events (issue 11 item 4). APPROVAL_REQUESTED and BUDGET_EXCEEDED are matched by name. */
export const DEFAULT_CHANNEL_EVENTS = ['APPROVAL_REQUESTED', 'WORKSPACE_PROVISION_FAILED', 'WORKSPACE_OFFLINE', 'BUDGET_EXCEEDED'] as const;

export interface ChannelDeps {
  db: Db;
  cipher: SecretCipher;
  policy: NetworkPolicy;
}

export interface ChannelInput {
  type: ChannelType;
  config: Record<string, unknown>;
  allowed_users?: string[];
  enabled?: boolean;
  events?: string[];
}

const CHANNEL_NOT_FOUND = () => new DomainError('NOT_FOUND', 'channel not found');

async function lockLiveWorkspace(db: Db, workspaceId: string): Promise<void> {
  const row = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').forShare().executeTakeFirst();
  if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
}

async function requireLiveWorkspace(db: Db, workspaceId: string): Promise<void> {
  const row = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).where('status', '<>', 'removed').executeTakeFirst();
  if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
}

const unique = (xs: string[]) => [...new Set(xs)];

export function presentChannel(row: ChannelRow) {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    type: row.type,
    config: Object.fromEntries(Object.entries(row.config_masked).map(([k, v]) => [k, String(v)])),
    allowed_users: row.allowed_users,
    enabled: row.enabled,
    events: row.events,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** A channel checked and sealed, ready to insert (org import uses this inside its own transaction). */
export function prepareChannel(deps: Pick<ChannelDeps, 'cipher' | 'policy'>, workspaceId: string, input: ChannelInput) {
  const { config, generatedSecret } = validateConfig(input.type, input.config, deps.policy);
  const id = newUuid();
  return {
    row: {
      id,
      workspace_id: workspaceId,
      type: input.type,
      sealed: sealConfig(deps.cipher, id, config),
      masked: maskConfig(input.type, config),
      allowed_users: unique(input.allowed_users ?? []),
      enabled: input.enabled ?? true,
      events: unique(input.events ?? [...DEFAULT_CHANNEL_EVENTS]),
    },
    generatedSecret,
  };
}

export async function insertPreparedChannel(trx: Transaction<TenantSchema>, prepared: ReturnType<typeof prepareChannel>): Promise<ChannelRow> {
  return insertChannel(trx, prepared.row);
}

export async function createChannel(deps: ChannelDeps, workspaceId: string, input: ChannelInput, audit: AuditEventInput) {
  const prepared = prepareChannel(deps, workspaceId, input);
  const row = await deps.db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, workspaceId);
    const inserted = await insertChannel(trx, prepared.row);
    await appendAuditEvents(trx, [audit]);
    return inserted;
  });
  return { channel: presentChannel(row), generatedSecret: prepared.generatedSecret };
}

export async function listWorkspaceChannels(db: Db, workspaceId: string) {
  await requireLiveWorkspace(db, workspaceId);
  return (await listChannels(db, workspaceId)).map(presentChannel);
}

export interface ChannelPatch {
  config?: Record<string, unknown>;
  allowed_users?: string[];
  enabled?: boolean;
  events?: string[];
}

export async function updateChannel(deps: ChannelDeps, workspaceId: string, channelId: string, patch: ChannelPatch, audit: AuditEventInput) {
  const row = await deps.db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, workspaceId);
    const current = await getChannel(trx, workspaceId, channelId, true);
    if (!current) throw CHANNEL_NOT_FOUND();
    const set: Record<string, unknown> = { updated_at: new Date() };
    if (patch.config !== undefined) {
      // Validated before anything is written; a thrown ValidationError rolls the transaction back untouched.
      const { config } = validateConfig(current.type, patch.config, deps.policy, openConfig(deps.cipher, current));
      Object.assign(set, sealConfig(deps.cipher, current.id, config), { config_masked: JSON.stringify(maskConfig(current.type, config)) });
    }
    if (patch.allowed_users !== undefined) set.allowed_users = JSON.stringify(unique(patch.allowed_users));
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (patch.events !== undefined) set.events = JSON.stringify(unique(patch.events));
    const updated = await trx.updateTable('channels').set(set).where('id', '=', current.id).returningAll().executeTakeFirstOrThrow();
    await appendAuditEvents(trx, [audit]);
    return updated;
  });
  return presentChannel(row);
}

export async function removeChannel(db: Db, workspaceId: string, channelId: string, audit: AuditEventInput): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockLiveWorkspace(trx, workspaceId);
    if (!(await deleteChannel(trx, workspaceId, channelId))) throw CHANNEL_NOT_FOUND();
    await appendAuditEvents(trx, [audit]);
  });
}

export async function requireChannel(db: Db, workspaceId: string, channelId: string): Promise<ChannelRow> {
  await requireLiveWorkspace(db, workspaceId);
  const row = await getChannel(db, workspaceId, channelId);
  if (!row) throw CHANNEL_NOT_FOUND();
  return row;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export async function channelDeliveries(db: Db, workspaceId: string, channelId: string, limit: number) {
  await requireChannel(db, workspaceId, channelId);
  const rows = await listDeliveries(db, channelId, limit);
  return rows.map((d) => ({
    id: d.id,
    channel_id: d.channel_id,
    event_id: d.event_id === null ? null : Number(d.event_id),
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
    created_at: new Date(d.created_at).toISOString(),
    delivered_at: iso(d.delivered_at),
    attempt_log: d.attempt_log.map((a) => ({
      attempt: a.attempt,
      status_code: a.status_code,
      error: a.error,
      duration_ms: a.duration_ms,
      attempted_at: new Date(a.attempted_at).toISOString(),
    })),
  }));
}
