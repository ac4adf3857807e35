import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

export type TimingTarget = { kind: 'pattern'; pattern: string; flags: string } | { kind: 'format'; name: string };

export interface TimingResult {
  /** How many adversarial inputs were run. */
  inputs: number;
  worstMs: number;
  worstInput: string;
  /** Set when one input ran past the budget and the worker was stopped: that input. */
  timedOut?: string;
}

type Message =
  | { type: 'count'; count: number }
  | { type: 'begin'; index: number; description: string }
  | { type: 'end'; index: number; ms: number }
  | { type: 'done' };

/**
 * Times `target` on every adversarial input of about `length` characters in a worker thread. An input still running
 * `budgetMs` after the worker said it began stops the worker: the result names it. The clock starts when this
 * thread hears "begin", so a busy test process only ever makes the budget more generous, never a false alarm.
 */
export function timeWorstCase(target: TimingTarget, length: number, budgetMs: number): Promise<TimingResult> {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./regex-timer-worker.js', import.meta.url), { workerData: { target, length, port: port2 }, transferList: [port2] });
  const result: TimingResult = { inputs: 0, worstMs: 0, worstInput: '' };
  let running: { description: string; since: number } | null = null;
  return new Promise<TimingResult>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      port1.close();
      void worker.terminate().then(() => (err ? reject(err) : resolve(result)));
    };
    const handle = (m: Message) => {
      if (m.type === 'count') result.inputs = m.count;
      else if (m.type === 'begin') running = { description: m.description, since: performance.now() };
      else if (m.type === 'end') {
        if (m.ms > result.worstMs) {
          result.worstMs = m.ms;
          result.worstInput = running?.description ?? '';
        }
        running = null;
      } else finish();
    };
    port1.on('message', handle);
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => finish(code === 0 ? undefined : new Error(`regex timer worker exited with ${code}`)));
    const watchdog = setInterval(() => {
      // Messages already sent but not yet delivered count: only an input with no "end" in flight is overdue.
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) handle(m.message as Message);
      if (running && performance.now() - running.since > budgetMs) {
        result.timedOut = running.description;
        result.worstMs = Math.max(result.worstMs, performance.now() - running.since);
        result.worstInput = running.description;
        finish();
      }
    }, 100);
  });
}
