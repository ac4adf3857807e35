/**
 * The bundle format (reference `bundle.Bundle`, spec/reference-tenant.md §3.13): one workspace with its files and
 * metadata, and its sub-workspaces as bundles of the same shape.
 *
 * The request schema describes one node; `sub_workspaces` items are bounded opaque objects in it, and the service
 * validates every nested node against the same node schema, iteratively (service.ts). A recursive JSON Schema
 * would have the validator recurse once per level of whatever depth a client sends; the limits (sanitise.ts)
 * are checked first, in one iterative pass.
 */
import { Type, type Static } from 'typebox';
import { JSON_LIMITS_KEYWORD, JsonObject, TEXT_FORMAT, Text } from '../../core/http/input.js';
import { BUNDLE_LIMITS } from './sanitise.js';

const NO_NEWLINES = '^[^\\n\\r]*$';

/** `{relative path: UTF-8 text}`: the paths are checked by the service (sanitise.ts), to name the bad one. */
const Files = (description: string) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    propertyNames: { type: 'string', format: TEXT_FORMAT, minLength: 1, maxLength: BUNDLE_LIMITS.pathLength },
    additionalProperties: { type: 'string', format: TEXT_FORMAT, maxLength: BUNDLE_LIMITS.fileBytes },
    maxProperties: BUNDLE_LIMITS.filesPerNode,
    description: `${description} Keys are relative, normalised paths (no leading "/", no "." or ".." segment, no backslash); values are UTF-8 text (no NUL).`,
  });

export const BundleSkill = Type.Object(
  {
    id: Text({ minLength: 1, maxLength: 100, description: 'The skill folder: `skills/<id>/`. Letters, digits, `.`, `_`, `-`; no `..`.' }),
    name: Type.Optional(Text({ maxLength: 255 })),
    description: Type.Optional(Text({ maxLength: 4096 })),
    files: Type.Optional(Files('The skill folder’s files (SKILL.md and the rest), relative to it.')),
  },
  { additionalProperties: false },
);

export const BundleTool = Type.Object({ id: Text({ minLength: 1, maxLength: 200 }), config: Type.Optional(JsonObject()) }, { additionalProperties: false });

const nodeProperties = {
  schema: Type.Optional(Type.Literal('1.0', { description: 'The bundle format version; "1.0".' })),
  id: Type.Optional(Text({ maxLength: 200, description: 'The exporting workspace’s id; kept as the new workspace’s source bundle id.' })),
  name: Type.Optional(Text({ maxLength: 255, description: 'Required and not blank (else 400 `bundle name is required`). A taken name gets a ` (2)` … suffix, as POST /workspaces does.' })),
  description: Type.Optional(Type.Union([Text({ maxLength: 1000 }), Type.Null()], { description: 'Becomes the workspace’s role.' })),
  tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 4, description: 'Isolation tier 1-4; default 3.' })),
  model: Type.Optional(Type.Union([Text({ maxLength: 100, pattern: NO_NEWLINES }), Type.Null()])),
  system_prompt: Type.Optional(Text({ maxLength: BUNDLE_LIMITS.fileBytes, description: 'Written as `system-prompt.md`.' })),
  skills: Type.Optional(Type.Array(BundleSkill, { maxItems: BUNDLE_LIMITS.filesPerNode })),
  tools: Type.Optional(Type.Array(BundleTool, { maxItems: 100 })),
  prompts: Type.Optional(
    Files(
      'Other files of the workspace (`config.yaml`, …). `runtime:` in `config.yaml` sets the runtime. A path may not be `system-prompt.md` or inside `skills/<id>/` (use system_prompt and skills).',
    ),
  ),
  agent_card: Type.Optional(Type.Union([JsonObject(), Type.Null()])),
  author: Type.Optional(Text({ maxLength: 255 })),
  version: Type.Optional(Text({ maxLength: 64 })),
};

/** A nested bundle: validated by the service against BundleNode, node by node. */
const SubBundle = Type.Unsafe<BundleNode>({
  type: 'object',
  // Far above what BundleNode's own limits allow at the deepest permitted level; the real limits are checked first.
  [JSON_LIMITS_KEYWORD]: { maxDepth: 2 * BUNDLE_LIMITS.depth + 48, maxBytes: BUNDLE_LIMITS.bodyBytes },
  description: `A bundle of the same shape (sub_workspaces nest at most ${BUNDLE_LIMITS.depth} levels).`,
});

/** One node of the tree, its sub-workspaces opaque (each is validated against this same schema in turn). */
export const BundleNodeSchema = Type.Object(
  { ...nodeProperties, sub_workspaces: Type.Optional(Type.Array(Type.Unsafe<unknown>({ type: 'object' }), { maxItems: BUNDLE_LIMITS.nodes })) },
  { additionalProperties: false },
);

export const BundleImportRequest = Type.Object(
  { ...nodeProperties, sub_workspaces: Type.Optional(Type.Array(SubBundle, { maxItems: BUNDLE_LIMITS.nodes })) },
  {
    additionalProperties: false,
    description: `Limits (413): at most ${BUNDLE_LIMITS.nodes} workspaces, ${BUNDLE_LIMITS.depth} levels, ${BUNDLE_LIMITS.filesPerNode} files a workspace, ${BUNDLE_LIMITS.fileBytes} bytes a file, ${BUNDLE_LIMITS.bundleBytes} bytes of files in all.`,
  },
);

type NodeFields = Static<typeof BundleNodeSchema>;
export interface BundleNode extends Omit<NodeFields, 'sub_workspaces'> {
  sub_workspaces?: BundleNode[];
}

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

const Opaque = (description: string) => Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description });

export const BundleExport = Type.Object({
  schema: Type.Literal('1.0'),
  id: Type.String({ format: 'uuid', description: 'The exported workspace’s id.' }),
  name: Type.String(),
  description: Type.String({ description: 'The workspace’s role ("" when none).' }),
  tier: Type.Integer(),
  model: Type.String({ description: '"" when none. Filled here (the reference leaves it empty), so a round trip keeps it.' }),
  system_prompt: Type.String({ description: 'The file `system-prompt.md` ("" when none).' }),
  skills: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      description: Type.String(),
      files: Type.Record(Type.String(), Type.String()),
    }),
  ),
  tools: Type.Array(Type.Object({ id: Type.String(), config: Type.Optional(Opaque('Tool configuration, as imported.')) })),
  prompts: Type.Record(Type.String(), Type.String(), { description: 'Every other text file: `config.yaml` and the rest.' }),
  sub_workspaces: Type.Array(Opaque('A bundle of this same shape: a live sub-workspace.')),
  agent_card: Type.Unknown({ description: 'The workspace’s agent card, or null.' }),
  author: Type.String(),
  version: Type.String(),
});
export type BundleExport = Static<typeof BundleExport>;

export const BundleImportResult = Type.Object({
  workspace_id: Type.String({ format: 'uuid' }),
  name: Type.String({ description: 'The name given, with a ` (2)` … suffix if it was taken.' }),
  status: Type.Literal('provisioning'),
  children: Type.Optional(
    Type.Array(Type.Unsafe<BundleImportResult>({ type: 'object', additionalProperties: true, description: 'The result for a sub-workspace, of this same shape.' })),
  ),
});
export interface BundleImportResult {
  workspace_id: string;
  name: string;
  status: 'provisioning';
  children?: BundleImportResult[];
}
