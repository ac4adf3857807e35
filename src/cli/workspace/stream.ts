import type { CliContext } from '../context.js';
import { cell } from '../output.js';

/** One event as GET /events/{id} lists it, or as the SSE stream's `data:` carries it (normalised to the list's names). */
export interface EventRow {
  id: number | string;
  event_type: string;
  workspace_id: string | null;
  payload: unknown;
  created_at: string;
}

/** A human line per event: time, type, workspace, payload. */
export function eventLine(e: EventRow): string {
  const payload = e.payload && typeof e.payload === 'object' && Object.keys(e.payload).length > 0 ? ` ${JSON.stringify(e.payload)}` : '';
  return `${e.created_at}  ${e.event_type.padEnd(26)} ${cell(e.workspace_id)}${payload}`;
}

/** Prints an event: one JSON object per line under --json (NDJSON, for `| jq`), else a human line. */
export function printEvent(ctx: CliContext, e: EventRow): void {
  ctx.out.stdout.write(ctx.out.json ? `${JSON.stringify(e)}\n` : `${eventLine(e)}\n`);
}

/**
 * Follows a workspace's Server-Sent Events stream until the user interrupts (Ctrl-C ends the process) or the server
 * ends it. Each `data:` line is one event: {id, type, workspace_id, timestamp (unix ms), data}.
 */
export async function followEvents(ctx: CliContext, workspaceId: string, lastEventId?: string): Promise<void> {
  const { response } = await ctx.tenant().GET('/workspaces/{id}/events/stream', {
    params: { path: { id: workspaceId }, query: lastEventId ? { last_event_id: lastEventId } : {} },
    parseAs: 'stream',
  });
  if (!response.body) return;
  if (!ctx.out.json) ctx.out.note(ctx.out.style('dim', `following events of ${workspaceId} (Ctrl-C to stop)…`, ctx.out.stderr));
  else ctx.out.note(JSON.stringify({ following: workspaceId }));
  const decoder = new TextDecoder();
  let buffer = '';
  let eventName = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line.startsWith('event:')) eventName = line.slice(6).trim();
      else if (line === '') eventName = '';
      else if (line.startsWith('data:')) {
        if (eventName === 'overflow') {
          ctx.out.warn('fell too far behind the event stream; it ended — run the command again');
          return;
        }
        let raw: { id?: number | string; type?: string; workspace_id?: string | null; timestamp?: number; data?: unknown };
        try {
          raw = JSON.parse(line.slice(5).trim());
        } catch {
          continue;
        }
        printEvent(ctx, {
          id: raw.id ?? '',
          event_type: raw.type ?? eventName,
          workspace_id: raw.workspace_id ?? null,
          payload: raw.data ?? {},
          created_at: new Date(raw.timestamp ?? Date.now()).toISOString(),
        });
      }
    }
  }
}

/** The lines of `next` not already printed from `previous` (the log tail is a sliding window). */
export function newLines(previous: string[], next: string[]): string[] {
  for (let k = Math.min(previous.length, next.length); k > 0; k--) {
    let same = true;
    for (let i = 0; i < k; i++) {
      if (previous[previous.length - k + i] !== next[i]) {
        same = false;
        break;
      }
    }
    if (same) return next.slice(k);
  }
  return next;
}
