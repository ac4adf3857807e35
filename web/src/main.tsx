import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AccountApp } from './account';
import { ON_TENANT } from './api';
import { Router } from './router';
import { TenantApp } from './tenant';
import './styles.css';

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <Router>{ON_TENANT ? <TenantApp /> : <AccountApp />}</Router>
    </QueryClientProvider>
  </StrictMode>,
);
