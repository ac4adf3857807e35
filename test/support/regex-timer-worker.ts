/**
 * Runs one pattern (or ajv format) over its adversarial inputs, timing each, in a worker thread so the test can
 * stop a catastrophic pattern instead of waiting minutes for it. Reports each input before and after running it.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { isStorableText, TEXT_FORMAT } from '../../src/core/http/input.js';
import { describeInput, materialize, PatternAnalysis, type AdversarialInput } from './regex-safety.js';
import type { TimingTarget } from './regex-timer.js';

const { target, length, port } = workerData as { target: TimingTarget; length: number; port: MessagePort };

function prepare(t: TimingTarget): { test: (s: string) => unknown; inputs: AdversarialInput[] } {
  if (t.kind === 'pattern') {
    const re = new RegExp(t.pattern, t.flags);
    return { test: (s) => re.test(s), inputs: new PatternAnalysis(t.pattern, t.flags).adversarialInputs() };
  }
  // Our own format (src/core/http/input.ts) is checked by code, like ajv's code formats.
  const format = t.name === TEXT_FORMAT ? isStorableText : (fullFormats as Record<string, unknown>)[t.name];
  if (format instanceof RegExp) return prepare({ kind: 'pattern', pattern: format.source, flags: format.flags });
  const validate = typeof format === 'function' ? format : (format as { validate?: unknown } | undefined)?.validate;
  if (typeof validate !== 'function') throw new Error(`unknown format ${t.name}`);
  // A format checked by code: long runs of each kind of character, ending in each kind.
  const kinds = ['a', 'Z', '0', '-', '.', ':', '@', ' ', '/', '\n', '\u0000', '\u00e9'];
  const inputs = kinds.flatMap((unit) => ['', ...kinds].map((suffix) => ({ prefix: '', unit, suffix })));
  return { test: (s) => (validate as (s: string) => unknown)(s), inputs };
}

const { test, inputs } = prepare(target);
port.postMessage({ type: 'count', count: inputs.length });
for (const [index, input] of inputs.entries()) {
  const text = materialize(input, length);
  port.postMessage({ type: 'begin', index, description: describeInput(input, length) });
  const started = performance.now();
  test(text);
  port.postMessage({ type: 'end', index, ms: performance.now() - started });
}
port.postMessage({ type: 'done' });
