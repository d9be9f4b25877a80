import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, test, vi } from 'vitest';
import '../i18n';
import { SessionProvider } from '../api/session';
import { Workspaces, resourceName } from './Workspaces';

function renderPage() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  // A platform admin with no workspaces yet.
  vi.stubGlobal(
    'fetch',
    vi.fn(async (path: string) => {
      const body = path.startsWith('/api/v1/auth/whoami')
        ? { username: 'root', platform_role: 'platform-admin', csrf_token: 'c' }
        : { items: [], next_page_token: null };
      return new Response(JSON.stringify(body), { status: 200 });
    }),
  );
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <SessionProvider>
          <Workspaces />
        </SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => vi.unstubAllGlobals());

describe('workspace form', () => {
  test('names follow the API rule', () => {
    for (const ok of ['a', 'vision-team', '9lives', 'x'.repeat(63)]) expect(resourceName.test(ok), ok).toBe(true);
    for (const bad of ['', '-a', 'Vision', 'a b', 'a_b', 'x'.repeat(64)]) expect(resourceName.test(bad), bad).toBe(false);
  });

  test('says what is wrong while typing and only then allows creating', async () => {
    renderPage();
    const name = await screen.findByLabelText('Name');
    const create = screen.getByRole('button', { name: 'Create' });
    expect(create).toHaveProperty('disabled', true);
    fireEvent.change(name, { target: { value: 'Bad Name' } });
    expect(screen.getByText(/Use lower-case letters/)).toBeTruthy();
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(create).toHaveProperty('disabled', true);
    fireEvent.change(name, { target: { value: 'good-name' } });
    expect(screen.queryByText(/Use lower-case letters/)).toBeNull();
    expect(create).toHaveProperty('disabled', false);
    expect(await screen.findByText(/No workspaces yet/)).toBeTruthy();
  });
});
