// HTTP calls to Vigil. Prometheus-style endpoints answer {"status":"success","data":...,
// "warnings":[...]} or {"status":"error","errorType":...,"error":...}; the Alertmanager v2
// endpoints answer plain JSON.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorType?: string,
  ) {
    super(message);
  }
}

export interface ApiResult<T> {
  data: T;
  warnings: string[];
}

async function readBody(resp: Response): Promise<any> {
  const text = await resp.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, a plain-text error): show the start of it.
    return { status: 'error', error: text.slice(0, 300).trim() || resp.statusText };
  }
}

/** Calls a Prometheus-style endpoint; throws ApiError with the server's message on failure. */
export async function api<T>(path: string, init?: RequestInit): Promise<ApiResult<T>> {
  let resp: Response;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`cannot reach Vigil (${(e as Error).message})`, 0);
  }
  const body = await readBody(resp);
  if (!resp.ok || body?.status === 'error') {
    const msg = body?.error ?? `HTTP ${resp.status} ${resp.statusText}`;
    throw new ApiError(msg, resp.status, body?.errorType);
  }
  return { data: body?.data as T, warnings: Array.isArray(body?.warnings) ? body.warnings : [] };
}

/** Calls a plain-JSON endpoint (Alertmanager v2 API). */
export async function apiPlain<T>(path: string, init?: RequestInit): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`cannot reach Vigil (${(e as Error).message})`, 0);
  }
  const body = await readBody(resp);
  if (!resp.ok) {
    const msg = typeof body === 'string' ? body : body?.error ?? body?.message ?? `HTTP ${resp.status} ${resp.statusText}`;
    throw new ApiError(msg, resp.status);
  }
  return body as T;
}

export function jsonBody(method: string, body: unknown): RequestInit {
  return { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

export function formBody(params: Record<string, string | string[]>): RequestInit {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  }
  return { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: p.toString() };
}

export type ResultType = 'matrix' | 'vector' | 'scalar' | 'string';

export interface QueryData {
  resultType: ResultType;
  result: any;
}

/** A range query; start, end in ms, step in ms. */
export function queryRange(expr: string, start: number, end: number, step: number, signal?: AbortSignal) {
  return api<QueryData>('/api/v1/query_range', {
    ...formBody({ query: expr, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) }),
    signal,
  });
}

/** An instant query at time (ms). */
export function queryInstant(expr: string, time: number, signal?: AbortSignal) {
  return api<QueryData>('/api/v1/query', { ...formBody({ query: expr, time: String(time / 1000) }), signal });
}

export function labelValues(label: string, match?: string, signal?: AbortSignal) {
  const q = new URLSearchParams();
  if (match) q.append('match[]', match);
  const qs = q.toString();
  return api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values${qs ? '?' + qs : ''}`, { signal });
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.errorType ? `${e.errorType}: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

// Dashboards (docs/api/dashboards.md).
import type { Dashboard, DashboardSummary } from './lib/model';

export const dashboardsApi = {
  list: () => api<DashboardSummary[]>('/api/v1/dashboards'),
  get: (uid: string) => api<Dashboard>(`/api/v1/dashboards/${encodeURIComponent(uid)}`),
  create: (d: Dashboard) => api<{ uid: string; version: number }>('/api/v1/dashboards', jsonBody('POST', d)),
  save: (uid: string, d: Dashboard) => api<{ uid: string; version: number }>(`/api/v1/dashboards/${encodeURIComponent(uid)}`, jsonBody('PUT', d)),
  remove: (uid: string) => api<null>(`/api/v1/dashboards/${encodeURIComponent(uid)}`, { method: 'DELETE' }),
};
