/**
 * A partner's lifecycle against `molecule-platform cp` with local-process tenants, on the real PostgreSQL server:
 * two orgs isolated from each other, kill -9 of a tenant under load, the tenant admin token (the story: test/support/platform-lifecycle.ts).
 */
import { lifecycleSuite } from './support/platform-lifecycle.js';

lifecycleSuite('postgres', 'tenants');
