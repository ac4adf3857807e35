import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateTenantOpenApi, TENANT_SNAPSHOT } from './openapi.js';

// `npm run openapi:update`: regenerates the committed snapshot after an intended API change.
const doc = await generateTenantOpenApi();
mkdirSync(path.dirname(TENANT_SNAPSHOT), { recursive: true });
writeFileSync(TENANT_SNAPSHOT, JSON.stringify(doc, null, 2) + '\n');
process.stdout.write(`wrote ${path.relative(process.cwd(), TENANT_SNAPSHOT)}\n`);
