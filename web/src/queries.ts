import { useQuery } from '@tanstack/react-query';
import { tenant } from './api';

/** Queries more than one page uses, under one key each so an invalidation reaches every view. */
export function useWorkspaces() {
  return useQuery({ queryKey: ['workspaces'], queryFn: async () => (await tenant.GET('/workspaces')).data! });
}
