import type { DomainRoutes } from '../routes.js';
import createApprovalRoute from './routes/create.js';
import { decideApprovalRoute, decideWorkspaceApprovalRoute } from './routes/decide.js';
import getApprovalRoute from './routes/get.js';
import listApprovalsRoute from './routes/list.js';
import { listPendingApprovalsRoute, listPendingRequestsRoute } from './routes/pending.js';
import withdrawApprovalRoute from './routes/withdraw.js';

export { approvalGate, approvalRequiredDeleteHook, holdForApproval } from './gate.js';

export const approvalRoutes: DomainRoutes = {
  admin: [listPendingApprovalsRoute, listPendingRequestsRoute, getApprovalRoute, decideApprovalRoute],
  workspace: [createApprovalRoute, listApprovalsRoute, decideWorkspaceApprovalRoute, withdrawApprovalRoute],
};
