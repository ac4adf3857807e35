/**
 * A uid range of its own for every test tenant that may run agents. A tenant kills every process of its agents'
 * uids when a runtime stops (src/core/compute/agent-sandbox.ts), and test files run two at a time, so two tenants
 * must never share a range. Ranges are carved from the test process's pid (files run in separate processes) and a
 * counter (tenants within one file), far above the default production range.
 */
let next = 0;
const PER_TENANT = 100;
const PER_PROCESS = 20;

export function agentUidRange(): { AGENT_UID_BASE: string; AGENT_UID_COUNT: string } {
  const slot = next++ % PER_PROCESS;
  const base = 10_000_000 + (process.pid % 90_000) * PER_PROCESS * PER_TENANT + slot * PER_TENANT;
  return { AGENT_UID_BASE: String(base), AGENT_UID_COUNT: String(PER_TENANT) };
}
