import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_PLANE_SNAPSHOT, generateControlPlaneOpenApi, generateTenantOpenApi, TENANT_SNAPSHOT } from './openapi.js';

// `npm run openapi:update`: regenerates the committed snapshots after an intended API change.
for (const [file, generate] of [
  [TENANT_SNAPSHOT, generateTenantOpenApi],
  [CONTROL_PLANE_SNAPSHOT, generateControlPlaneOpenApi],
] as const) {
  const doc = await generate();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
