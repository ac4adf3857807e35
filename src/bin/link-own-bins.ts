// Run by `npm install` (the `prepare` script, after tsc) in a checkout of this repository: npm links the bins of
// dependencies into node_modules/.bin but never the project's own, so `npx molecule …` would not find the CLI in its
// own clone. This links each of package.json's bins there (and makes the built entry points executable). An
// installed copy of the package does not need it: npm links its bins for the project that depends on it.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
const binDir = path.join(root, 'node_modules', '.bin');

if (existsSync(path.join(root, 'node_modules'))) {
  mkdirSync(binDir, { recursive: true });
  for (const [name, target] of Object.entries(pkg.bin ?? {})) {
    const file = path.join(root, target);
    if (!existsSync(file)) continue;
    chmodSync(file, 0o755);
    const link = path.join(binDir, name);
    try {
      if (lstatSync(link)) unlinkSync(link);
    } catch {
      // no link yet
    }
    symlinkSync(path.relative(binDir, file), link);
  }
}
