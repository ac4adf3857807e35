import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built `molecule` CLI (the package's second bin). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws with the output when it is not). */
  json<T = unknown>(): T;
}

export interface CliRunOptions {
  /** Added to a minimal environment (PATH, HOME, a fresh MOLECULE_CONFIG_DIR unless given). */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Give up after this long (default 120 s; the machine may be busy). */
  timeoutMs?: number;
}

/** A fresh, empty config directory (each test its own profiles file). */
export function freshConfigDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'molecule-cli-'));
}

function result(code: number | null, stdout: string, stderr: string): CliResult {
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    NO_COLOR: '1',
    MOLECULE_CONFIG_DIR: extra['MOLECULE_CONFIG_DIR'] ?? freshConfigDir(),
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Runs `molecule <args>` as a real child process with pipes (no terminal), and waits for it to exit. */
export function runCli(args: string[], opts: CliRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: baseEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`molecule ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 120_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(result(code, stdout, stderr));
    });
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * A CLI run inside a real pseudo-terminal (util-linux `script`), for prompts, progress bars and colours: `send` is
 * called with a writer once `waitFor` text appears in the output, to answer a prompt like a person would.
 * The terminal merges stdout and stderr into `stdout`.
 */
export interface TerminalSession {
  /** Resolves when the output contains `text` (or matches it), with everything printed so far. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Types into the terminal (use "\r" for Enter). */
  type(text: string): void;
  /** The exit code and the full output. */
  done: Promise<CliResult>;
  kill(signal?: NodeJS.Signals): void;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function runCliInTerminal(args: string[], opts: CliRunOptions = {}): TerminalSession {
  // A fresh pty is 0x0, and prompt libraries wrap at the terminal's width: give it a real size first.
  const command = `stty cols 120 rows 40 2>/dev/null; exec ${[process.execPath, CLI, ...args].map(shellQuote).join(' ')}`;
  const env = baseEnv({ TERM: 'xterm-256color', COLUMNS: '120', LINES: '40', ...opts.env });
  // `script -q -e -c CMD /dev/null`: a pty for CMD, its exit code passed through (-e), no transcript file.
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters: { match: string | RegExp; resolve: (s: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const plain = stripAnsi(output);
      if (typeof w.match === 'string' ? plain.includes(w.match) : w.match.test(plain)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(plain);
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    check();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
    check();
  });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve(result(code, stripAnsi(output), ''))));
  return {
    waitFor(match, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`terminal never showed ${String(match)}; it showed:\n${stripAnsi(output)}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
        });
        void done.then(() => {
          check();
          clearTimeout(timer);
          reject(new Error(`the CLI exited before showing ${String(match)}; it showed:\n${stripAnsi(output)}`));
        });
        check();
      });
    },
    type(text) {
      child.stdin.write(text);
    },
    done,
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
  };
}

/** Output without terminal escape sequences (colours, cursor moves). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching the escape character is the point
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007|\r/g, '');
}
