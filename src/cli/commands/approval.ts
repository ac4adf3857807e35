import type { Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';

async function decide(ctx: CliContext, id: string, decision: 'approved' | 'denied', reason?: string): Promise<void> {
  // The server attributes the decision to the deciding credential and stores no free text (it ignores the
  // reference's `decided_by`), so a reason is not sent where it would silently vanish: the person is told instead.
  if (reason && !ctx.out.json) ctx.out.note('note: the server records who decided (this credential), not the reason');
  const { data } = await ctx.tenant().POST('/approvals/{approvalId}/decide', { params: { path: { approvalId: id } }, body: { decision } });
  if (ctx.out.json) return ctx.out.data(data);
  ctx.out.success(`${decision === 'approved' ? 'approved' : 'denied'} ${data!.approval_id}`);
}

/** `molecule approval …`: the human side of the approval gate (pending requests, decide). */
export function register(program: Command): void {
  const approval = program.command('approval').alias('approvals').description('approvals: list pending requests, inspect one, approve or deny it');
  examples(approval, ['molecule approval list', 'molecule approval approve 5c1d…', 'molecule approvals deny 5c1d… --reason "not this week"']);

  examples(
    approval
      .command('list')
      .alias('ls')
      .description('list pending approvals: who asked, for what, when')
      .option('--limit <n>', 'at most this many', positiveInt('--limit'))
      .action(
        action(async (ctx, opts: { limit?: number }) => {
          const { data } = await ctx.tenant().GET('/approvals/pending', { params: { query: opts.limit ? { limit: opts.limit } : {} } });
          ctx.out.list(data ?? [], [
            { header: 'ID', value: (a) => a.id },
            { header: 'ACTION', value: (a) => a.action },
            { header: 'REQUESTED BY', value: (a) => a.requested_by },
            { header: 'WORKSPACE', value: (a) => a.workspace_name ?? (a.workspace_id ? a.workspace_id : '(org)') },
            { header: 'REASON', value: (a) => a.reason },
            { header: 'ASKED', value: (a) => a.created_at },
            { header: 'EXPIRES', value: (a) => a.expires_at },
          ], 'no pending approvals');
        }),
      ),
    ['molecule approval list', 'molecule approval list --json | jq -r ".[].id"'],
  );

  examples(
    approval
      .command('inspect')
      .description('show one approval with the context the approver sees')
      .argument('<id>', 'the approval id')
      .action(
        action(async (ctx, id: string) => {
          const { data } = await ctx.tenant().GET('/approvals/{approvalId}', { params: { path: { approvalId: id } } });
          const a = data!;
          if (ctx.out.json) return ctx.out.data(a);
          ctx.out.record({
            id: a.id,
            status: a.status,
            action: a.action,
            reason: a.reason,
            'requested by': a.requested_by,
            workspace: a.workspace_name ?? a.workspace_id ?? '(org)',
            asked: a.created_at,
            expires: a.expires_at,
            'decided by': a.decided_by,
            decided: a.decided_at,
            context: a.context,
          });
        }),
      ),
    ['molecule approval inspect 5c1d…', 'molecule approval inspect 5c1d… --json | jq .context'],
  );

  examples(
    approval
      .command('approve')
      .description('approve a pending request (the requester then repeats it, and it runs once)')
      .argument('<id>', 'the approval id')
      .option('--reason <text>', 'why (for the reference CLI\'s scripts: the server records who decided, not a reason)')
      .action(action(async (ctx, id: string, opts: { reason?: string }) => decide(ctx, id, 'approved', opts.reason))),
    ['molecule approval approve 5c1d…', 'molecule approval approve 5c1d… --reason "checked with ops"'],
  );

  examples(
    approval
      .command('deny')
      .description('deny a pending request')
      .argument('<id>', 'the approval id')
      .option('--reason <text>', 'why (for the reference CLI\'s scripts: the server records who decided, not a reason)')
      .action(action(async (ctx, id: string, opts: { reason?: string }) => decide(ctx, id, 'denied', opts.reason))),
    ['molecule approval deny 5c1d…', 'molecule approval deny 5c1d… --reason "wrong workspace" --json'],
  );
}
