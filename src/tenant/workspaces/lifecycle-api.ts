/** What other domains may ask of the workspace lifecycle (implemented in lifecycle.ts). */
export interface SecretsChange {
  /** These workspaces' own secrets changed. */
  workspaceIds?: string[];
  /** An org-wide secret changed: every running workspace without its own value for this key is affected. */
  globalKey?: string;
}

export interface WorkspaceLifecycleApi {
  /**
   * Secret values changed: restart the affected running workspaces so their processes get the new environment.
   * Returns at once; restarts are coalesced (N quick writes → at most 2 restarts) and the last value always wins.
   */
  secretsChanged(change: SecretsChange): void;
}
