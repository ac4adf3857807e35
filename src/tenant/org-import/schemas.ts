import { Type, type Static } from 'typebox';
import { JSON_LIMITS_KEYWORD, Text } from '../../core/http/input.js';
import { AllowedUsers, ChannelEvents, ChannelTypeSchema } from '../channels/schemas.js';
import { SECRET_KEY_MAX } from '../secrets/schemas.js';

/**
 * The org template (reference §3.11, "Org template YAML shape"): what `org.yaml` holds and what POST /org/import takes
 * inline. Every string, array and number is bounded. Fields of the reference this server does not act on yet
 * (`schedules`, `category_routing`, `*_file` prompts, `global_memories`) are refused as unknown fields
 * rather than silently dropped.
 */

const NO_NEWLINES = '^[^\\n\\r]*$';

/** Caps (SECURITY.md, "Org import"): beyond them an import is refused before anything is read from the database. */
export const ORG_LIMITS = {
  /** Workspace nodes in one template, include expansion done (more → 413). */
  maxNodes: 1000,
  /** Levels of `children` (the roots are level 1). */
  maxDepth: 16,
  /** Nested `!include`s. */
  maxIncludeDepth: 16,
  /** One YAML file (org.yaml, an included file, a YAML request body). */
  maxFileBytes: 1024 * 1024,
  /** Everything one template reads: its files, its includes and the files of its `files_dir`s. */
  maxTotalBytes: 5 * 1024 * 1024,
  /** Files under one node's `files_dir`. */
  maxFilesPerNode: 200,
  /** YAML aliases (the `yaml` package's maxAliasCount): an alias bomb fails here, not in memory. */
  maxAliasCount: 100,
  /** Siblings under one parent (the JSON schema's bound; the node cap applies to the whole tree). */
  maxSiblings: 1000,
} as const;

/** `KEY` or `{any_of: [K1, K2]}` (reference: a requirement met by any one of several keys). */
export const EnvRequirement = Type.Union([
  Text({ minLength: 1, maxLength: SECRET_KEY_MAX }),
  Type.Object({ any_of: Type.Array(Text({ minLength: 1, maxLength: SECRET_KEY_MAX }), { minItems: 1, maxItems: 16 }) }, { additionalProperties: false }),
]);
export type EnvRequirement = Static<typeof EnvRequirement>;
/** The same in responses (serialised, not validated: no input formats). */
const EnvRequirementOut = Type.Union([Type.String(), Type.Object({ any_of: Type.Array(Type.String()) })]);
const EnvList = Type.Array(EnvRequirement, { maxItems: 100 });

const Memory = Type.Object(
  { content: Text({ minLength: 1, maxLength: 100_000 }), scope: Type.Optional(Type.Union([Type.Literal('LOCAL'), Type.Literal('TEAM'), Type.Literal('GLOBAL')])) },
  { additionalProperties: false },
);
const Plugins = Type.Array(Text({ minLength: 1, maxLength: 200 }), { maxItems: 100 });
const Prompt = Text({ maxLength: 100_000 });

/**
 * A node's notification channel (reference §3.11 `channels[{type,config{},allowed_users[],enabled?}]`, plus our
 * `events`). `${VAR}` in a config value is replaced by the org-wide secret VAR; a channel naming a variable that is not
 * set is skipped and reported in `channels_skipped`, as the reference does.
 */
export const OrgChannel = Type.Object(
  {
    type: ChannelTypeSchema,
    config: Type.Record(Type.String({ maxLength: 64, pattern: '^[a-z_]{1,64}$' }), Text({ maxLength: 2048 }), { maxProperties: 8 }),
    allowed_users: Type.Optional(AllowedUsers),
    enabled: Type.Optional(Type.Boolean()),
    events: Type.Optional(ChannelEvents),
  },
  { additionalProperties: false },
);
export type OrgChannel = Static<typeof OrgChannel>;

/** What a node and `defaults` share. */
const nodeSettings = {
  runtime: Type.Optional(Text({ maxLength: 100, pattern: NO_NEWLINES })),
  model: Type.Optional(Text({ maxLength: 100, pattern: NO_NEWLINES })),
  tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  plugins: Type.Optional(Plugins),
  initial_prompt: Type.Optional(Prompt),
  idle_prompt: Type.Optional(Prompt),
  idle_interval_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 * 30 })),
  initial_memories: Type.Optional(Type.Array(Memory, { maxItems: 100 })),
};

export const OrgDefaults = Type.Object(nodeSettings, { additionalProperties: false });

/**
 * One workspace of the tree. `children` are OrgWorkspace nodes too; the schema names them as objects and the server
 * checks every level against this same schema (a recursive `$ref` would not survive the OpenAPI tooling), so an
 * error deep in the tree names its path (`workspaces[0].children[2].name`).
 */
export const OrgWorkspace = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 255 }),
    role: Type.Optional(Text({ maxLength: 1000 })),
    ...nodeSettings,
    template: Type.Optional(Text({ minLength: 1, maxLength: 200, description: 'A workspace template id, stored on the workspace as POST /workspaces does.' })),
    files_dir: Type.Optional(Text({ minLength: 1, maxLength: 1024, description: 'A directory inside the org template’s folder (dir-based templates only).' })),
    spawning: Type.Optional(Type.Boolean({ description: 'false: neither this workspace nor its subtree is created.' })),
    system_prompt: Type.Optional(Prompt),
    workspace_dir: Type.Optional(Text({ maxLength: 1024 })),
    workspace_access: Type.Optional(Text({ maxLength: 16 })),
    max_concurrent_tasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    external: Type.Optional(Type.Boolean({ description: 'An agent run by the operator: with `url` it is online at once.' })),
    url: Type.Optional(Text({ maxLength: 2048, pattern: '^https?://', 'x-error': 'must be an http(s) URL' })),
    canvas: Type.Optional(Type.Object({ x: Type.Number({ minimum: -1e9, maximum: 1e9 }), y: Type.Number({ minimum: -1e9, maximum: 1e9 }) }, { additionalProperties: false })),
    required_env: Type.Optional(EnvList),
    recommended_env: Type.Optional(EnvList),
    channels: Type.Optional(Type.Array(OrgChannel, { maxItems: 20, description: 'Notification channels created with the workspace (`${VAR}` from org-wide secrets).' })),
    children: Type.Optional(
      Type.Array(
        Type.Unsafe<OrgWorkspaceNode>({
          type: 'object',
          // Bounded like any free-form JSON: 16 levels of workspaces are two JSON levels each, plus a node's own fields.
          [JSON_LIMITS_KEYWORD]: { maxDepth: 40, maxBytes: 1024 * 1024 },
          description: 'An OrgWorkspace (this same schema, checked level by level).',
        }),
        {
          maxItems: ORG_LIMITS.maxSiblings,
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export interface OrgWorkspaceNode extends Omit<Static<typeof OrgWorkspace>, 'children'> {
  children?: OrgWorkspaceNode[];
}

export const OrgTemplate = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 255 }),
    description: Type.Optional(Text({ maxLength: 10_000 })),
    defaults: Type.Optional(OrgDefaults),
    workspaces: Type.Optional(Type.Array(OrgWorkspace, { maxItems: ORG_LIMITS.maxSiblings })),
    required_env: Type.Optional(EnvList),
    recommended_env: Type.Optional(EnvList),
  },
  { additionalProperties: false },
);
export interface OrgTemplate extends Omit<Static<typeof OrgTemplate>, 'workspaces'> {
  workspaces?: OrgWorkspaceNode[];
}

export const ImportMode = Type.Union([Type.Literal('merge'), Type.Literal('reconcile'), Type.Literal('')], {
  description: '`merge` (default; "" too): create what is missing. `reconcile`: also remove, under each parent the file names, what it no longer lists.',
});

export const OrgImportRequest = Type.Object(
  {
    dir: Type.Optional(Text({ minLength: 1, maxLength: 255, description: 'A template folder: under ORG_TEMPLATES_DIR, else a built-in example.' })),
    template: Type.Optional(OrgTemplate),
    mode: Type.Optional(ImportMode),
  },
  { additionalProperties: false },
);
export type OrgImportRequest = Static<typeof OrgImportRequest>;

export const OrgImportQuery = Type.Object({
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'true: answer 200 with the plan and the preflight; change nothing.' })),
  mode: Type.Optional(ImportMode),
});

export const OrgTemplateSummary = Type.Object({
  dir: Type.String(),
  name: Type.String(),
  description: Type.String(),
  workspaces: Type.Integer({ description: 'Workspace nodes in the tree (spawning or not).' }),
  required_env: Type.Array(EnvRequirementOut),
  recommended_env: Type.Array(EnvRequirementOut),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('configured')], { description: '`configured`: from ORG_TEMPLATES_DIR.' }),
});
export type OrgTemplateSummary = Static<typeof OrgTemplateSummary>;

export const Preflight = Type.Object({
  ok: Type.Boolean(),
  missing_env: Type.Array(EnvRequirementOut),
  required_env: Type.Array(EnvRequirementOut),
  recommended_env: Type.Array(EnvRequirementOut),
  missing_recommended_env: Type.Array(EnvRequirementOut),
});
export type Preflight = Static<typeof Preflight>;

/** A declared plugin not installed into a new workspace, and why (the import goes on without it). */
export const PluginSkipped = Type.Object({
  name: Type.String({ description: 'The name as the template declares it.' }),
  reason: Type.Union([Type.Literal('not in the catalog'), Type.Literal('not in the org allowlist'), Type.Literal('missing required environment')]),
  missing_env: Type.Optional(Type.Array(Type.String(), { description: '`missing required environment`: the variables no org-wide secret provides.' })),
});
const PluginsSkipped = Type.Array(PluginSkipped, {
  description: 'Declared plugins (`defaults.plugins` ∪ `plugins`) not installed: not in the catalog (GET /plugins), not permitted by the org allowlist, or needing an org-wide secret that is not set.',
});

export const PlanEntry = Type.Object({
  action: Type.Union([Type.Literal('create'), Type.Literal('skip'), Type.Literal('remove')]),
  name: Type.String(),
  path: Type.String({ description: 'Names from the root, `/`-separated (e.g. `Lead/Writer`).' }),
  id: Type.Optional(Type.String({ format: 'uuid', description: 'The existing workspace (skip, remove).' })),
  channels: Type.Optional(Type.Array(Type.String(), { description: 'create: the types of the channels the node names (created unless a `${VAR}` is unresolved).' })),
  plugins: Type.Optional(Type.Array(Type.String(), { description: 'create: the declared plugins that would be installed (in the catalog and permitted by the org allowlist).' })),
  plugins_skipped: Type.Optional(PluginsSkipped),
});
export type PlanEntry = Static<typeof PlanEntry>;

export const OrgImportPlanResponse = Type.Object({
  dry_run: Type.Literal(true),
  org: Type.String(),
  mode: Type.Union([Type.Literal('merge'), Type.Literal('reconcile')]),
  plan: Type.Array(PlanEntry),
  summary: Type.Object({ create: Type.Integer(), skip: Type.Integer(), remove: Type.Integer() }),
  preflight: Preflight,
});

export const ImportedWorkspace = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  path: Type.String(),
  tier: Type.Integer(),
  status: Type.String(),
  skipped: Type.Optional(Type.Literal(true)),
  // The new workspace's first API token, shown once (as POST /workspaces shows it); absent for skipped ones.
  auth_token: Type.Optional(Type.String({ description: 'A workspace token (`molw_…`) for this new workspace only. Shown once.' })),
  token_id: Type.Optional(Type.String()),
  channels: Type.Optional(Type.Array(Type.String(), { description: 'The types of the channels created with this workspace (reference shape).' })),
  channels_skipped: Type.Optional(
    Type.Array(Type.Object({ index: Type.Integer(), type: Type.String(), missing: Type.Array(Type.String()) }), {
      description: 'Channels not created because a `${VAR}` in their config names no org-wide secret.',
    }),
  ),
  plugins_installed: Type.Optional(
    Type.Array(Type.String(), {
      description: 'A created workspace that declares plugins: the ones installed with it (materialised when its runtime first starts). A skipped (existing) workspace keeps its plugins as they are.',
    }),
  ),
  plugins_skipped: Type.Optional(PluginsSkipped),
});

export const OrgImportResponse = Type.Object({
  org: Type.String(),
  workspaces: Type.Array(ImportedWorkspace),
  count: Type.Integer({ description: 'Entries in `workspaces` (created and skipped).' }),
  created_count: Type.Integer(),
  skipped_count: Type.Integer(),
  mode: Type.Union([Type.Literal('merge'), Type.Literal('reconcile')]),
  reconcile_removed_count: Type.Optional(Type.Integer()),
  removed: Type.Optional(Type.Array(Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String(), path: Type.String() }))),
  error: Type.Optional(Type.String({ description: '207 only: which runtimes failed to start (the records were created).' })),
});
export type OrgImportResponse = Static<typeof OrgImportResponse>;
