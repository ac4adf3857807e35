/**
 * Validates a whole bundle tree and turns it into what will be written, before anything is: every node's fields,
 * skill ids, file paths and runtime. One bad node refuses the import with a 400 naming it; nothing is created.
 */
import type { ValidateFunction } from 'ajv';
import { DomainError, ValidationError } from '../../core/errors.js';
import { buildValidators, describeValidationErrors } from '../../core/http/app.js';
import { parseTemplateConfig, type TemplateConfig } from '../../core/templates/config.js';
import { checkFields } from '../workspaces/service.js';
import { promptPathReserved, SYSTEM_PROMPT_FILE, type StoredSkill } from './files.js';
import { assertSafePath, assertSkillId } from './sanitise.js';
import { BundleNodeSchema, type BundleNode } from './schemas.js';

/** What an imported workspace keeps of its bundle that no workspace column holds: `config.bundle`. */
export interface BundleMetadata {
  source_bundle_id: string | null;
  author: string;
  version: string;
  tools: Array<{ id: string; config?: Record<string, unknown> }>;
  skills: StoredSkill[];
  /** Its place among the bundle's siblings: rows created in one transaction share created_at. */
  position: number;
}

export interface PlannedNode {
  /** Where in the bundle (`sub_workspaces[0].sub_workspaces[2]`; '' for the root), for messages. */
  where: string;
  name: string;
  role: string | null;
  tier: number;
  model: string | null;
  runtime: string;
  /** Its config.yaml names an agent command: only an admin may bring one (as only an admin writes templates). */
  hasCommand: boolean;
  agentCard: Record<string, unknown> | null;
  files: Map<string, Buffer>;
  metadata: BundleMetadata;
  children: PlannedNode[];
}

/** As POST /workspaces: no runtime asked for is the empty runtime (the template or the provisioner decides). */
const DEFAULT_RUNTIME = '';
const DEFAULT_TIER = 3;
/** The version the reference writes into every export. */
export const DEFAULT_BUNDLE_VERSION = '1.0.0';

let nodeValidator: ValidateFunction | undefined;
/** The same validator the routes' bodies get (formats `text`, JSON limits), compiled on first use. */
function validateNode(node: unknown, where: string): asserts node is BundleNode {
  nodeValidator ??= buildValidators().body.compile(BundleNodeSchema);
  if (nodeValidator(node)) return;
  const prefix = where
    .replace(/\[(\d+)\]/g, '/$1')
    .split('.')
    .join('/');
  const errors = (nodeValidator.errors ?? []).map((e) => ({ ...e, instancePath: `/${prefix}${e.instancePath}` }));
  const { message, fields } = describeValidationErrors(errors, where);
  throw new ValidationError('invalid bundle', { detail: message, fields, ...(fields.length === 1 ? { field: fields[0] } : {}) });
}

/**
 * The bundle's config.yaml, parsed as the workspace's runtime will read it (core/templates/config.ts; the reference
 * line-scans it for `runtime:`): its runtime (else the default) and whether it names an agent `command`.
 */
function configOf(configYaml: string | undefined, field: string): { runtime: string; command: boolean } {
  if (configYaml === undefined) return { runtime: DEFAULT_RUNTIME, command: false };
  let config: TemplateConfig;
  try {
    config = parseTemplateConfig(configYaml);
  } catch (err) {
    throw new ValidationError(`invalid config.yaml in bundle: ${(err as Error).message.split('\n')[0]}`, { field });
  }
  const runtime = config.runtime;
  if (runtime !== undefined && (runtime.length > 100 || /[\n\r\u0000]/.test(runtime))) {
    throw new ValidationError('invalid runtime in bundle config.yaml: a single-line string of at most 100 characters', { field });
  }
  return { runtime: runtime || DEFAULT_RUNTIME, command: config.command !== undefined };
}

function planNode(node: BundleNode, where: string, position: number): PlannedNode {
  const at = (field: string) => (where ? `${where}.${field}` : field);
  if (node.name === undefined || node.name.trim() === '') throw new ValidationError('bundle name is required', { field: at('name') });
  try {
    checkFields({ name: node.name, role: node.description ?? null });
  } catch (err) {
    if (err instanceof DomainError && typeof err.context['field'] === 'string') {
      throw new ValidationError(err.message, { ...err.context, field: at(err.context['field']) });
    }
    throw err;
  }
  const config = configOf(node.prompts?.['config.yaml'], at('prompts["config.yaml"]'));

  const files = new Map<string, Buffer>();
  if (node.system_prompt) files.set(SYSTEM_PROMPT_FILE, Buffer.from(node.system_prompt, 'utf8'));
  for (const [path, content] of Object.entries(node.prompts ?? {})) {
    const field = at(`prompts[${JSON.stringify(path)}]`);
    assertSafePath(path, field);
    if (promptPathReserved(path)) {
      throw new ValidationError(`prompt path reserved in bundle: ${JSON.stringify(path)}`, {
        field,
        path,
        detail: `use system_prompt for ${SYSTEM_PROMPT_FILE}, and skills for files under skills/<id>/`,
      });
    }
    files.set(path, Buffer.from(content, 'utf8'));
  }
  const skills: StoredSkill[] = [];
  (node.skills ?? []).forEach((skill, i) => {
    assertSkillId(skill.id, at(`skills[${i}].id`));
    if (skills.some((s) => s.id === skill.id)) {
      throw new ValidationError(`duplicate skill id in bundle: ${JSON.stringify(skill.id)}`, { field: at(`skills[${i}].id`), skill_id: skill.id });
    }
    for (const [path, content] of Object.entries(skill.files ?? {})) {
      assertSafePath(path, at(`skills[${i}].files[${JSON.stringify(path)}]`));
      files.set(`skills/${skill.id}/${path}`, Buffer.from(content, 'utf8'));
    }
    skills.push({ id: skill.id, name: skill.name ?? skill.id, description: skill.description ?? '' });
  });

  return {
    where,
    name: node.name,
    role: node.description ? node.description : null,
    tier: node.tier ?? DEFAULT_TIER,
    model: node.model ? node.model : null,
    runtime: config.runtime,
    hasCommand: config.command,
    agentCard: node.agent_card ?? null,
    files,
    metadata: {
      source_bundle_id: node.id ? node.id : null,
      author: node.author ?? '',
      version: node.version ?? DEFAULT_BUNDLE_VERSION,
      tools: (node.tools ?? []).map((t) => ({ id: t.id, ...(t.config !== undefined ? { config: t.config } : {}) })),
      skills,
      position,
    },
    children: [],
  };
}

/**
 * Checks every nested node against the node schema the root was given, naming the field within the tree
 * (`sub_workspaces[0].skills[1].files.a.md`). Iterative; runs after the limits (sanitise.ts) and before the route's
 * own schema check of the root, whose opaque `sub_workspaces` items could only name the whole sub-workspace.
 */
export function validateSubBundles(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return; // the route's schema refuses it
  const stack: Array<{ node: Record<string, unknown>; where: string }> = [{ node: body as Record<string, unknown>, where: '' }];
  while (stack.length > 0) {
    const { node, where } = stack.pop()!;
    const children = node['sub_workspaces'];
    if (!Array.isArray(children)) continue;
    children.forEach((child: unknown, i) => {
      const at = where ? `${where}.sub_workspaces[${i}]` : `sub_workspaces[${i}]`;
      validateNode(child, at);
      stack.push({ node: child as Record<string, unknown>, where: at });
    });
  }
}

/** The whole tree, parents before children, each node checked (the schema part by validateSubBundles, before). */
export function planImport(root: BundleNode): PlannedNode {
  const top = planNode(root, '', 0);
  const stack: Array<{ node: BundleNode; plan: PlannedNode }> = [{ node: root, plan: top }];
  while (stack.length > 0) {
    const { node, plan } = stack.pop()!;
    (node.sub_workspaces ?? []).forEach((child, i) => {
      const planned = planNode(child, plan.where ? `${plan.where}.sub_workspaces[${i}]` : `sub_workspaces[${i}]`, i);
      plan.children.push(planned);
      stack.push({ node: child, plan: planned });
    });
  }
  return top;
}
