import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built launcher, as `npx molecule-platform` runs it. */
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/bin/molecule-platform.js');

export interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Spawns `molecule-platform <command>` on a free loopback port with exactly the given environment and resolves
 * with its URL once it prints the `{"msg":"listening","url":…}` line.
 */
export async function startBinary(command: string, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, [BIN, command], {
    env: { PATH: process.env['PATH'] ?? '', ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s:\n${out}`)), 30_000);
    const check = () => {
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
          return;
        }
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${out}`)));
  });
  return { proc, url, output: () => out, exited };
}
