import type { DomainRoutes } from '../routes.js';
import getLlmBillingModeRoute from './routes/get-billing-mode.js';
import getBudgetRoute from './routes/get.js';
import setLlmBillingModeRoute from './routes/set-billing-mode.js';
import updateBudgetRoute from './routes/update.js';

/**
 * Budgets (spec §3.5) and the LLM billing mode (§3.6). Reading a budget is open to the workspace's own token;
 * changing it, and everything about billing mode, is the admin chain's, confined to the bound workspace.
 */
export const budgetsRoutes: DomainRoutes = {
  adminBound: [updateBudgetRoute, getLlmBillingModeRoute, setLlmBillingModeRoute],
  workspace: [getBudgetRoute],
};
