import { Type, type Static } from 'typebox';
import { TEXT_FORMAT, Text } from '../../core/http/input.js';
import { TEMPLATE_ID_PATTERN, TEMPLATE_LIMITS } from '../../core/templates/config.js';

export const TemplateId = Type.String({ pattern: TEMPLATE_ID_PATTERN, description: 'Template id: the normalised name (lower-case letters, digits, _ and -).', 'x-error': 'must be a template id' });
export const TemplateIdParams = Type.Object({ id: TemplateId });

const EnvRequirement = Type.Union([Type.String(), Type.Object({ any_of: Type.Array(Type.String()) })]);

/** One item of GET /templates: the reference's shape (§3.12). */
export const TemplateItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  tier: Type.Integer(),
  runtime: Type.String(),
  model: Type.String(),
  models: Type.Optional(Type.Array(Type.Unknown())),
  required_env: Type.Optional(Type.Array(EnvRequirement)),
  recommended_env: Type.Optional(Type.Array(EnvRequirement)),
  skills: Type.Array(Type.String()),
  skill_count: Type.Integer(),
  provision_timeout_seconds: Type.Optional(Type.Number()),
});
export type TemplateItem = Static<typeof TemplateItem>;

/** GET /templates/:id: the item, plus its version, origin, agent command and files (contents with ?content=true). */
export const TemplateDetail = Type.Object({
  ...TemplateItem.properties,
  version: Type.Integer(),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('dir'), Type.Literal('api')]),
  command: Type.Union([Type.String(), Type.Null()]),
  prompt_files: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  files: Type.Array(
    Type.Object({
      path: Type.String(),
      size: Type.Integer(),
      sha256: Type.String(),
      content: Type.Optional(Type.String({ description: 'The file as UTF-8 text (only with ?content=true).' })),
    }),
  ),
});

/**
 * POST /templates/import and PUT /templates/:id. `files` maps a relative path to its UTF-8 text. The count (200),
 * the paths and the sizes (1 MiB a file, 10 MiB in all) are checked by the service so that each refusal names the
 * file (and says `too many files (N), max 200` as the reference does); the schema only bounds what it must.
 */
export const TemplateBody = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 255 }),
    files: Type.Unsafe<Record<string, string>>({
      type: 'object',
      propertyNames: { type: 'string', format: TEXT_FORMAT, maxLength: TEMPLATE_LIMITS.maxPathLength * 4 },
      additionalProperties: { type: 'string', format: TEXT_FORMAT },
      maxProperties: 10_000,
      description: '`{relative path: UTF-8 text}`: at most 200 files, 1 MiB a file and 10 MiB in all; config.yaml is generated when absent.',
    }),
  },
  { additionalProperties: false },
);
export type TemplateBody = Static<typeof TemplateBody>;

/** Large enough for a 10 MiB template written as JSON (escapes included); the service enforces the real limits. */
export const TEMPLATE_BODY_LIMIT = 32 * 1024 * 1024;
