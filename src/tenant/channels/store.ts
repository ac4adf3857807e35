import type { Kysely, Selectable } from 'kysely';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import type { ChannelsTable, TenantSchema } from '../db/schema.js';
import type { ChannelConfig, ChannelType } from './formats.js';

/** Queries for channels and their delivery log. Every function takes a Kysely, which may be a caller's Transaction. */

type Db = Kysely<TenantSchema>;
export type ChannelRow = Selectable<ChannelsTable>;

/** The AAD binding a sealed config to its channel: a ciphertext copied to another channel fails to open. */
export function channelConfigAad(channelId: string): string {
  return `channel:${channelId.toLowerCase()}`;
}

export function sealConfig(cipher: SecretCipher, channelId: string, config: ChannelConfig): { config_ciphertext: string; config_key_id: string } {
  const sealed = cipher.encrypt(JSON.stringify(config), channelConfigAad(channelId));
  return { config_ciphertext: sealed.ciphertext, config_key_id: sealed.keyId };
}

export function openConfig(cipher: SecretCipher, row: Pick<ChannelRow, 'id' | 'config_ciphertext' | 'config_key_id'>): ChannelConfig {
  return JSON.parse(cipher.decrypt({ ciphertext: row.config_ciphertext, keyId: row.config_key_id }, channelConfigAad(row.id))) as ChannelConfig;
}

export interface NewChannel {
  id: string;
  workspace_id: string;
  type: ChannelType;
  sealed: { config_ciphertext: string; config_key_id: string };
  masked: Record<string, unknown>;
  allowed_users: string[];
  enabled: boolean;
  events: string[];
}

export async function insertChannel(db: Db, c: NewChannel): Promise<ChannelRow> {
  return db
    .insertInto('channels')
    .values({
      id: c.id,
      workspace_id: c.workspace_id,
      type: c.type,
      ...c.sealed,
      config_masked: JSON.stringify(c.masked),
      allowed_users: JSON.stringify(c.allowed_users),
      enabled: c.enabled,
      events: JSON.stringify(c.events),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listChannels(db: Db, workspaceId: string): Promise<ChannelRow[]> {
  return db.selectFrom('channels').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}

export async function getChannel(db: Db, workspaceId: string, channelId: string, lock = false): Promise<ChannelRow | undefined> {
  let q = db.selectFrom('channels').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', channelId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function deleteChannel(db: Db, workspaceId: string, channelId: string): Promise<boolean> {
  const res = await db.deleteFrom('channels').where('workspace_id', '=', workspaceId).where('id', '=', channelId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function listDeliveries(db: Db, channelId: string, limit: number) {
  const deliveries = await db.selectFrom('channel_deliveries').selectAll().where('channel_id', '=', channelId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  const ids = deliveries.map((d) => d.id);
  const attempts = ids.length
    ? await db.selectFrom('channel_delivery_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('attempt', 'asc').execute()
    : [];
  return deliveries.map((d) => ({ ...d, attempt_log: attempts.filter((a) => a.delivery_id === d.id) }));
}
