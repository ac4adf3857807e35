import type { TemplateConfig } from '../../core/templates/config.js';
import type { TemplateRow } from './store.js';
import type { TemplateItem } from './schemas.js';

/** A stored template as the reference lists it (§3.12): name, model and the rest from its config.yaml. */
export function presentTemplate(row: TemplateRow): TemplateItem {
  const c = row.config as unknown as TemplateConfig;
  const skills = c.skills ?? [];
  return {
    id: row.id,
    name: c.name ?? row.name,
    description: c.description ?? '',
    tier: c.tier ?? 0,
    runtime: c.runtime ?? '',
    model: c.model ?? '',
    ...(c.models ? { models: c.models } : {}),
    ...(c.required_env && c.required_env.length > 0 ? { required_env: c.required_env } : {}),
    ...(c.recommended_env && c.recommended_env.length > 0 ? { recommended_env: c.recommended_env } : {}),
    skills,
    skill_count: skills.length,
    ...(c.provision_timeout_seconds !== undefined ? { provision_timeout_seconds: c.provision_timeout_seconds } : {}),
  };
}
