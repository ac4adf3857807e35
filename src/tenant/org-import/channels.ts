import type { Kysely } from 'kysely';
import type { SecretCipher } from '../../core/crypto/cipher.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { insertChannel } from '../channels/store.js';
import { prepareChannel } from '../channels/service.js';
import type { NetworkPolicy } from '../channels/network.js';
import type { TenantSchema } from '../db/schema.js';
import { globalSecretAad } from '../secrets/store.js';
import type { DesiredNode } from './plan.js';

/**
 * The `channels[]` of the workspaces an import creates (reference §3.11): `${VAR}` in a config value is replaced by
 * the org-wide secret VAR (the reference reads the workspace's `.env`; this server keeps no files of secrets, so the
 * org's secrets stand in). A channel naming a variable that is not set is skipped and reported, as the reference
 * does; a channel whose expanded config is invalid fails the whole import (400 naming the field), before the commit.
 */

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface NodeChannels {
  created: string[];
  skipped: Array<{ index: number; type: string; missing: string[] }>;
}

/** Creates the channels of each new workspace inside the import's transaction; answers what was created or skipped, by workspace id. */
export async function createImportedChannels(
  trx: Kysely<TenantSchema>,
  deps: { cipher: SecretCipher; policy: NetworkPolicy },
  creates: ReadonlyArray<{ node: DesiredNode; id: string }>,
): Promise<Map<string, NodeChannels>> {
  const out = new Map<string, NodeChannels>();
  if (!creates.some((c) => c.node.channels.length > 0)) return out;
  // Only the secrets a config names are opened.
  const cache = new Map<string, string | null>();
  const secret = async (name: string): Promise<string | null> => {
    if (cache.has(name)) return cache.get(name) ?? null;
    const row = await trx.selectFrom('global_secrets').select(['ciphertext', 'key_id']).where('key', '=', name).executeTakeFirst();
    const value = row ? deps.cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, globalSecretAad(name)) : null;
    cache.set(name, value);
    return value;
  };
  for (const { node, id } of creates) {
    if (node.channels.length === 0) continue;
    const result: NodeChannels = { created: [], skipped: [] };
    for (const [index, spec] of node.channels.entries()) {
      const config: Record<string, string> = {};
      const missing = new Set<string>();
      for (const [key, raw] of Object.entries(spec.config)) {
        let value = raw;
        for (const name of new Set([...raw.matchAll(VAR)].map((m) => m[1]!))) {
          const found = await secret(name);
          if (found === null) missing.add(name);
          else value = value.split(`\${${name}}`).join(found);
        }
        config[key] = value;
      }
      if (missing.size > 0) {
        result.skipped.push({ index, type: spec.type, missing: [...missing].sort() });
        continue;
      }
      let prepared;
      try {
        prepared = prepareChannel(deps, id, { ...spec, config });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        const field = typeof err.context['field'] === 'string' ? `${node.where}.channels[${index}].${err.context['field']}` : `${node.where}.channels[${index}]`;
        // The message names the field, never the expanded value (it may be a secret).
        throw new ValidationError(err.message, { field, workspace: node.name });
      }
      await insertChannel(trx, prepared.row);
      result.created.push(spec.type);
    }
    out.set(id, result);
  }
  return out;
}
