import type { LoadArgs, LoadOutput, LoadSummary } from './protocol.js';
import { fmt, rate } from './stats.js';

/**
 * The round loop and results table shared by the parts that compare a few scenarios side by side on one or two
 * servers (bench/partner-keys.ts, bench/idempotency.ts): each round runs every scenario once, in a given order, one
 * window each after a warm-up; any non-2xx, error or timeout fails the run.
 */

/** What bench/run.ts hands such a part for its load windows. */
export interface InterleavedLoadContext {
  connections: number;
  windowSeconds: number;
  rounds: number;
  roundWarmupSeconds: number;
  runLoad(args: LoadArgs): Promise<LoadOutput>;
  assertClean(scenario: string, phase: string, s: LoadSummary): void;
  aggregate(windows: LoadSummary[]): LoadSummary;
}

export interface RoundWindow {
  round: number;
  /** 1-based position of this window within its round. */
  position: number;
  measured: LoadSummary;
  warmup: LoadSummary | null;
}

export interface InterleavedScenario {
  id: number;
  name: string;
  /** The load, but for connections and seconds, which the context sets. */
  load: Omit<LoadArgs, 'connections' | 'warmupSeconds' | 'durationSeconds'>;
}

/** Runs `ctx.rounds` rounds in the order `orderOf(round)` gives (scenario ids); returns each scenario's windows. */
export async function runInterleavedRounds(
  ctx: InterleavedLoadContext,
  scenarios: InterleavedScenario[],
  orderOf: (round: number) => number[],
  onWindow: (id: number, out: LoadOutput) => void = () => undefined,
): Promise<{ windows: Map<number, RoundWindow[]>; roundOrder: number[][] }> {
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const windows = new Map<number, RoundWindow[]>(scenarios.map((s) => [s.id, []]));
  const roundOrder: number[][] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const order = orderOf(round);
    roundOrder.push(order);
    process.stdout.write(`  round ${round}/${ctx.rounds}:`);
    for (const [index, id] of order.entries()) {
      const s = byId.get(id)!;
      const out = await ctx.runLoad({ ...s.load, connections: ctx.connections, warmupSeconds: ctx.roundWarmupSeconds, durationSeconds: ctx.windowSeconds });
      if (out.warmup) ctx.assertClean(s.name, `round ${round} warm-up`, out.warmup);
      ctx.assertClean(s.name, `round ${round}`, out.measured);
      onWindow(id, out);
      windows.get(id)!.push({ round, position: index + 1, measured: out.measured, warmup: out.warmup });
      process.stdout.write(`  #${id} ${fmt(rate(out.measured), 1)}`);
    }
    process.stdout.write(' req/s\n');
  }
  return { windows, roundOrder };
}

/** One row a scenario: rate, latency, failures, responses and seconds over all its measured windows. */
export function printScenarioTable(
  scenarios: Array<{ id: number; name: string; measured: LoadSummary }>,
  printAligned: (header: string[], rows: string[][], leftColumns: number) => void,
) {
  printAligned(
    ['#', 'scenario', 'req/s (mean)', 'p50 ms', 'p99 ms', 'non-2xx', 'responses', 'seconds'],
    scenarios.map((s) => [
      String(s.id),
      s.name,
      fmt(rate(s.measured), 1),
      fmt(s.measured.latencyMs.p50, 0),
      fmt(s.measured.latencyMs.p99, 0),
      String(s.measured.non2xx),
      fmt(s.measured.requestsTotal, 0),
      fmt(s.measured.durationSeconds, 0),
    ]),
    2,
  );
}
