/**
 * A partner's lifecycle against `molecule-platform cp` with local-process tenants, on the real PostgreSQL server:
 * kill -9 of the CP and adoption, TENANT_SHUTDOWN stop and keep (the story: test/support/platform-lifecycle.ts).
 */
import { lifecycleSuite } from './support/platform-lifecycle.js';

lifecycleSuite('postgres', 'restarts');
