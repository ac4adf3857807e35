import { Type, type Static } from 'typebox';
import { idPattern, UUID_PATTERN } from '../../core/ids.js';
import { JsonObject, Text } from '../../core/http/input.js';

export const ApprovalId = Type.String({ pattern: idPattern('approval'), description: 'Approval id (`apr_` + ULID).', 'x-error': 'must be an approval id (apr_…)' });
export const WorkspaceApprovalParams = Type.Object({
  id: Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be a workspace UUID' }),
  approvalId: ApprovalId,
});
export const ApprovalIdParams = Type.Object({ approvalId: ApprovalId });

/** What a reader sees: `expired` is computed (a pending or unused approved row past `expires_at`). */
export const ApprovalStatusSchema = Type.Union(
  [Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied'), Type.Literal('withdrawn'), Type.Literal('consumed'), Type.Literal('expired')],
  { description: '`consumed`: an approved gate approval that its request has used (once). `expired`: not decided (or, approved, not used) before `expires_at`.' },
);

/** The reference's list entry (§3.15) plus what it lacked: who asked, the context shown to the approver, the expiry. */
export const WorkspaceApproval = Type.Object({
  id: Type.String(),
  task_id: Type.String(),
  action: Type.String(),
  reason: Type.String(),
  status: ApprovalStatusSchema,
  decided_by: Type.Union([Type.String(), Type.Null()]),
  decided_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  requested_by: Type.String({ description: 'The principal that asked (`org-token:<prefix>`, `workspace-token:<prefix>`, …).' }),
  context: Type.Record(Type.String(), Type.Unknown(), { description: 'What was asked, as shown to the approver. Secret values appear only as a keyed hash.' }),
  expires_at: Type.String({ format: 'date-time' }),
  consumed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type WorkspaceApproval = Static<typeof WorkspaceApproval>;

/** `/approvals/pending` entries (reference §3.15: joined with the workspace name). workspace_id is null for org-wide actions. */
export const PendingApproval = Type.Object({
  id: Type.String(),
  workspace_id: Type.Union([Type.String(), Type.Null()]),
  workspace_name: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  reason: Type.String(),
  status: ApprovalStatusSchema,
  created_at: Type.String({ format: 'date-time' }),
  requested_by: Type.String(),
  context: Type.Record(Type.String(), Type.Unknown()),
  expires_at: Type.String({ format: 'date-time' }),
});
export type PendingApproval = Static<typeof PendingApproval>;

export const Approval = Type.Object({ ...WorkspaceApproval.properties, workspace_id: Type.Union([Type.String(), Type.Null()]), workspace_name: Type.Union([Type.String(), Type.Null()]) });

export const ApprovalCreateRequest = Type.Object(
  {
    task_id: Type.Optional(Text({ maxLength: 200 })),
    action: Text({ minLength: 1, maxLength: 200, description: 'What the agent wants to do (free text, e.g. `deploy`).' }),
    reason: Type.Optional(Text({ maxLength: 2000 })),
    context: Type.Optional(JsonObject({ maxBytes: 16 * 1024, description: 'Anything the approver should see, stored as given.' })),
  },
  { additionalProperties: false },
);
export type ApprovalCreateRequest = Static<typeof ApprovalCreateRequest>;

export const ApprovalCreated = Type.Object({ approval_id: Type.String(), status: Type.Literal('pending') });

export const ApprovalDecideRequest = Type.Object(
  {
    decision: Type.Union([Type.Literal('approved'), Type.Literal('denied')], { 'x-error': "must be 'approved' or 'denied'" }),
    decided_by: Type.Optional(
      Text({ maxLength: 200, description: 'Ignored: the decision is attributed to the deciding credential (the reference took this free text, defaulting to "human").' }),
    ),
  },
  { additionalProperties: false },
);
export type ApprovalDecideRequest = Static<typeof ApprovalDecideRequest>;

export const ApprovalDecided = Type.Object({ status: Type.Union([Type.Literal('approved'), Type.Literal('denied')]), approval_id: Type.String() });
export const ApprovalWithdrawn = Type.Object({ status: Type.Literal('withdrawn'), approval_id: Type.String() });

/** The approval gate's answer to a held-back request (reference §6.6). */
export const PendingApprovalReply = Type.Object({
  status: Type.Literal('pending_approval'),
  approval_id: Type.String(),
  action: Type.String(),
  reason: Type.String(),
});
export type PendingApprovalReply = Static<typeof PendingApprovalReply>;

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Page size (default 50, the reference’s fixed size).' })),
    before: Type.Optional(Type.String({ pattern: idPattern('approval'), description: 'Cursor: the last id of the previous page.', 'x-error': 'must be an approval id (apr_…)' })),
  },
  { additionalProperties: false },
);
