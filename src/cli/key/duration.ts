import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "30d", "12h", "90m", "45s", "2w" (or a bare number of seconds) → seconds; a usage error naming the option otherwise. */
export function durationSeconds(option: string): (value: string) => number {
  return (value) => {
    const m = /^(\d+)\s*([smhdw]?)$/.exec(value.trim());
    if (!m) throw new InvalidArgumentError(`${option} must be a duration like 30d, 12h, 90m or 45s`);
    return Number(m[1]) * UNITS[m[2] || 's']!;
  };
}
