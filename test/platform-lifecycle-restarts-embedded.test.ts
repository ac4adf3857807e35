/**
 * A partner's lifecycle against `molecule-platform cp` with local-process tenants, on an embedded PostgreSQL server of the test:
 * kill -9 of the CP and adoption, TENANT_SHUTDOWN stop and keep (the story: test/support/platform-lifecycle.ts).
 */
import { lifecycleSuite } from './support/platform-lifecycle.js';

lifecycleSuite('embedded', 'restarts');
