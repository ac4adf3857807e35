import type { Kysely } from 'kysely';
import type { TenantSchema } from './schema.js';

/** One statement per flush: every credential used since the last flush gets the latest use time of the batch. */
export async function touchLastUsed(db: Kysely<TenantSchema>, table: 'org_api_tokens' | 'workspace_tokens', uses: Map<string, Date>): Promise<void> {
  if (uses.size === 0) return;
  const latest = new Date(Math.max(...[...uses.values()].map((d) => d.getTime())));
  await db.updateTable(table).set({ last_used_at: latest }).where('id', 'in', [...uses.keys()]).execute();
}
