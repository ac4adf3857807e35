import { Type, type Static } from 'typebox';
import { Text } from '../../core/http/input.js';
import { PLUGIN_NAME_PATTERN } from './catalog.js';

/** A plugin name in a path: a base name (no separator, no `..`); anything else is refused before a handler runs. */
export const PluginName = Type.String({ pattern: PLUGIN_NAME_PATTERN, description: 'Plugin name: 1-64 lower-case letters, digits, ".", "_" or "-".', 'x-error': 'must be a plugin name' });

/** One entry of GET /plugins. */
export const CatalogItem = Type.Object({
  name: Type.String(),
  version: Type.String(),
  description: Type.String(),
  required_env: Type.Array(Type.String()),
  skills: Type.Array(Type.String()),
  files: Type.Array(Type.String(), { description: 'Paths inside the plugin; installed at plugins/<name>/<path> in the workspace.' }),
  origin: Type.Union([Type.Literal('builtin'), Type.Literal('dir')]),
  source: Type.String({ description: 'What POST /workspaces/:id/plugins takes to install it: `local://<name>`.' }),
});
export type CatalogItem = Static<typeof CatalogItem>;

export const InstalledPlugin = Type.Object({
  name: Type.String(),
  version: Type.String(),
  source: Type.String(),
  installed_by: Type.String(),
  installed_at: Type.String({ format: 'date-time' }),
});

export const InstallBody = Type.Object(
  {
    source: Text({ minLength: 1, maxLength: 200, description: '`local://<name>` (the reference’s form), or the bare name; `@<version>` pins a version.' }),
    restart: Type.Optional(Type.Boolean({ description: 'Restart the running workspace now so the files are materialised (default false: at its next start).' })),
  },
  { additionalProperties: false },
);

export const OrgIdParams = Type.Object({ id: Text({ minLength: 1, maxLength: 64, description: 'This tenant’s org id (MOLECULE_ORG_ID), or one of its root workspace ids.' }) });

export const AllowlistEntry = Type.Object({ plugin_name: Type.String(), enabled_by: Type.String(), enabled_at: Type.String({ format: 'date-time' }) });

export const AllowlistBody = Type.Object({
  plugins: Type.Array(Text({ maxLength: 200 }), { maxItems: 500 }),
  enabled_by: Type.Optional(Text({ maxLength: 256 })),
});
