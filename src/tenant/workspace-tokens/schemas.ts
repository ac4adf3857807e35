import { Type } from 'typebox';
import { idPattern } from '../../core/ids.js';

export const WorkspaceTokenId = Type.String({ pattern: idPattern('workspaceToken'), 'x-error': 'must be a workspace token id (wtk_…)' });

export const WorkspaceToken = Type.Object({
  id: Type.String(),
  prefix: Type.String({ description: 'First 13 characters (`molw_` + 8).' }),
  kind: Type.Union([Type.Literal('api'), Type.Literal('instance')]),
  created_by: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
