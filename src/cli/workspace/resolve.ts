import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WorkspaceRef {
  id: string;
  name: string;
}

/** The one workspace with this exact name: none → exit 6, several → exit 3 listing their ids. */
async function byName(ctx: CliContext, ref: string): Promise<WorkspaceRef> {
  const { data } = await ctx.tenant().GET('/workspaces');
  const matches = (data ?? []).filter((w) => w.name === ref);
  if (matches.length === 0) throw new CliError(`no workspace named "${ref}" — see \`molecule workspace list\``, EXIT.NOT_FOUND, 'WORKSPACE_NOT_FOUND');
  if (matches.length > 1) {
    throw new CliError(`${matches.length} workspaces are named "${ref}": ${matches.map((w) => w.id).join(', ')} — pass the id`, EXIT.USAGE, 'AMBIGUOUS_NAME');
  }
  return { id: matches[0]!.id, name: matches[0]!.name };
}

/**
 * A workspace given by id or by name, with its name (for messages and confirmations). An id is fetched (the server
 * answers 404 for an unknown one); a name is looked up in the list, so a script never acts on the wrong one.
 */
export async function resolveWorkspace(ctx: CliContext, ref: string): Promise<WorkspaceRef> {
  if (UUID.test(ref)) {
    const { data } = await ctx.tenant().GET('/workspaces/{id}', { params: { path: { id: ref } } });
    return { id: data!.id, name: data!.name };
  }
  return byName(ctx, ref);
}

/** Only the id: an id is used as is (no request; the route called with it answers 404), a name is looked up. */
export async function workspaceId(ctx: CliContext, ref: string): Promise<string> {
  return UUID.test(ref) ? ref : (await byName(ctx, ref)).id;
}
