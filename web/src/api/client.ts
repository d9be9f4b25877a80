// Calls to the platform's API from the console: same origin, the session cookie sent by
// the browser, the session's CSRF token on every change (docs/SECURITY.md), and the API's
// one error shape turned into ApiError.
import type { components } from './schema';

export type Schemas = components['schemas'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

// The API's 404: the resource does not exist, or the caller may not see it.
export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.status === 404;

let csrfToken = '';
export function setCsrfToken(token: string): void {
  csrfToken = token;
}
// For the few requests made without api() (uploads with progress).
export const currentCsrfToken = (): string => csrfToken;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  ifMatch?: string; // the ETag read: the server refuses (412) when it changed meanwhile
}

// An answer with its ETag (docs/API.md: concurrent edits).
export interface Tagged<T> {
  body: T;
  etag: string;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await apiTagged<T>(path, options)).body;
}

export async function apiTagged<T>(path: string, options: RequestOptions = {}): Promise<Tagged<T>> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  if (options.ifMatch) headers['If-Match'] = options.ifMatch;
  const res = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'same-origin',
    signal: options.signal,
  });
  const etag = res.headers.get('ETag') ?? '';
  if (res.status === 204) return { body: undefined as T, etag };
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw errorOf(res.status, res.statusText, data);
  return { body: data as T, etag };
}

// The API's error body {"error": {code, message, request_id}} (or anything else) as an ApiError.
export function errorOf(status: number, statusText: string, data: unknown): ApiError {
  const e = (data as { error?: { code?: string; message?: string; request_id?: string } } | null)?.error;
  return new ApiError(status, e?.code ?? 'unknown', e?.message ?? statusText, e?.request_id);
}

// One page of a collection (docs/API.md: keyset paging).
export interface Page<T> {
  items: T[];
  next_page_token: string | null;
}

export function pagePath(path: string, pageSize: number, token?: string | null): string {
  const q = new URLSearchParams({ page_size: String(pageSize) });
  if (token) q.set('page_token', token);
  return `${path}${path.includes('?') ? '&' : '?'}${q}`;
}

// Path segments are names the API validated; encode them anyway.
export const seg = encodeURIComponent;
