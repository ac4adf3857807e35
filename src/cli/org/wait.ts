import { progress } from '@clack/prompts';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';

/** GET /api/v1/orgs/{slug}/provision-status: the stage, a progress that never decreases, a message and an ETA. */
export interface ProvisionStatus {
  status: 'provisioning' | 'running' | 'failed';
  stage: string;
  progress: number;
  message: string;
  eta_seconds: number;
  url?: string;
}

export interface WaitOptions {
  /** Give up after this long (exit 1; the org keeps provisioning). */
  timeoutMs: number;
  /** Between two polls. */
  intervalMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function stepLine(s: ProvisionStatus): string {
  const eta = s.eta_seconds > 0 ? ` (about ${s.eta_seconds} s left)` : '';
  return `${s.stage} ${s.progress}% — ${s.message}${eta}`;
}

/**
 * Polls the org's provision status until it is `running` (returned) or `failed` (a CliError with the server's
 * message, exit 9). On a terminal: a live progress bar (stderr) advancing with the server's percentage and naming the
 * stage. Without one: one line per change of stage or message, on stderr. Under --json: silent (stdout gets the org).
 */
export async function waitUntilRunning(ctx: CliContext, slug: string, opts: WaitOptions): Promise<ProvisionStatus> {
  const cp = ctx.cp();
  const live = Boolean(process.stderr.isTTY) && !ctx.out.json;
  const bar = live ? progress({ max: 100, style: 'heavy', output: process.stderr }) : null;
  bar?.start(`Provisioning ${slug}`);
  const deadline = Date.now() + opts.timeoutMs;
  let shown = 0;
  let lastLine = '';
  try {
    for (;;) {
      const { data } = await cp.GET('/api/v1/orgs/{slug}/provision-status', { params: { path: { slug } } });
      const status = data as ProvisionStatus;
      const line = stepLine(status);
      if (line !== lastLine) {
        lastLine = line;
        if (bar) {
          const gain = Math.max(0, status.progress - shown);
          shown += gain;
          bar.advance(gain, `${slug}: ${status.stage} — ${status.message}`);
        } else if (!ctx.out.json) {
          ctx.out.note(`${slug}: ${line}`);
        }
      }
      if (status.status === 'running') {
        bar?.stop(`${slug} is running${status.url ? ` at ${status.url}` : ''}`);
        return status;
      }
      if (status.status === 'failed') {
        bar?.error(`${slug}: provisioning failed: ${status.message}`);
        throw new CliError(`provisioning ${slug} failed: ${status.message}`, EXIT.SERVER, 'PROVISIONING_FAILED');
      }
      if (Date.now() >= deadline) {
        bar?.error(`${slug}: still ${status.stage} after ${Math.round(opts.timeoutMs / 1000)} s`);
        throw new CliError(
          `org ${slug} is still provisioning (${line}) after ${Math.round(opts.timeoutMs / 1000)} s; follow it with \`molecule org status ${slug}\``,
          EXIT.ERROR,
          'WAIT_TIMEOUT',
        );
      }
      await sleep(opts.intervalMs);
    }
  } catch (err) {
    // A server or network error mid-wait: the bar must not be left spinning over the error message.
    if (bar && !bar.isCancelled && !(err instanceof CliError)) bar.error(`${slug}: stopped waiting`);
    throw err;
  }
}
