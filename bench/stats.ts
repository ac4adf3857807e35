import type { LoadSummary } from './protocol.js';

/** Arithmetic shared by the tenant's and the control plane's benchmark reports. */

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Requests per second over the whole window: every response counted, divided by the window's actual length. */
export const rate = (s: LoadSummary) => s.requestsTotal / s.durationSeconds;

export function fmt(n: number, digits: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export interface InterleavedRatio {
  name: string;
  numerator: string;
  denominator: string;
  /** (numerator requests / numerator seconds) / (denominator requests / denominator seconds), over all rounds. */
  value: number;
  method: 'interleaved';
  numeratorRequests: number;
  numeratorSeconds: number;
  denominatorRequests: number;
  denominatorSeconds: number;
  perRound: number[];
  perRoundMin: number;
  perRoundMedian: number;
  perRoundMax: number;
}

/** Two scenarios measured in alternating windows (one per round, same order index) as one ratio and its rounds. */
export function interleavedRatio(
  name: string,
  num: { name: string; windows: Array<{ measured: LoadSummary }> | null },
  den: { name: string; windows: Array<{ measured: LoadSummary }> | null },
): InterleavedRatio {
  const numWindows = num.windows!;
  const denWindows = den.windows!;
  const numeratorRequests = sum(numWindows.map((w) => w.measured.requestsTotal));
  const numeratorSeconds = sum(numWindows.map((w) => w.measured.durationSeconds));
  const denominatorRequests = sum(denWindows.map((w) => w.measured.requestsTotal));
  const denominatorSeconds = sum(denWindows.map((w) => w.measured.durationSeconds));
  // Equal windows make this the plain ratio of the request sums; dividing by the measured seconds keeps it right
  // should a window ever run long.
  const value = numeratorRequests / numeratorSeconds / (denominatorRequests / denominatorSeconds);
  const perRound = numWindows.map((w, i) => rate(w.measured) / rate(denWindows[i]!.measured));
  return {
    name,
    numerator: num.name,
    denominator: den.name,
    value,
    method: 'interleaved',
    numeratorRequests,
    numeratorSeconds,
    denominatorRequests,
    denominatorSeconds,
    perRound,
    perRoundMin: Math.min(...perRound),
    perRoundMedian: median(perRound),
    perRoundMax: Math.max(...perRound),
  };
}
