// A tiny client-side router over the History API. Routes live under /ui/.
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/ui';

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false) {
  const url = path.startsWith('/') ? path : `${BASE}/${path}`;
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((l) => l());
}

/** Replaces the query string of the current URL (no new history entry). */
export function setSearch(params: Record<string, string | undefined>) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, v);
  const qs = p.toString();
  const url = location.pathname + (qs ? '?' + qs : '');
  if (url !== location.pathname + location.search) history.replaceState(null, '', url);
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** The path below /ui/ ("explore", "dashboards/abc"), re-rendering on navigation. */
export function useRoute(): string {
  const [path, setPath] = useState(currentRoute());
  useEffect(() => {
    const l = () => setPath(currentRoute());
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return path;
}

function currentRoute(): string {
  let p = location.pathname;
  if (p.startsWith(BASE)) p = p.slice(BASE.length);
  return p.replace(/^\/+|\/+$/g, '');
}

/** Click handler for in-app links: lets the browser handle modified clicks. */
export function linkClick(e: MouseEvent) {
  const a = (e.currentTarget as HTMLAnchorElement) ?? null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href')!);
}
