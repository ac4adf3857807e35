import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_PLANE_SNAPSHOT, generateControlPlaneOpenApi, generateTenantOpenApi, TENANT_SNAPSHOT } from './openapi.js';
import { generateSdkTypes, SDK_SOURCES } from './sdk-codegen.js';

// `npm run openapi:update`: regenerates the committed snapshots after an intended API change, then the SDK's types
// from them (test/sdk.test.ts fails while either is stale).
for (const [file, generate] of [
  [TENANT_SNAPSHOT, generateTenantOpenApi],
  [CONTROL_PLANE_SNAPSHOT, generateControlPlaneOpenApi],
] as const) {
  const doc = await generate();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
for (const { snapshot, file } of SDK_SOURCES) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, await generateSdkTypes(snapshot));
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
