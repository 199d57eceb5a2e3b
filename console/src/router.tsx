// A small history router: real links (<a href>) that navigate without reloading the page.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of [...listeners]) listener();
};
window.addEventListener('popstate', notify);

const subscribe = (listener: () => void) => {
  listeners.add(listener);
  return () => void listeners.delete(listener);
};
const snapshot = () => location.pathname + location.search;

export function navigate(to: string, options: { replace?: boolean } = {}) {
  if (to === snapshot()) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

/** The current path and query, re-rendering on every navigation. */
export function useLocation(): { pathname: string; query: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(current, location.origin);
  return { pathname: url.pathname, query: url.searchParams };
}

export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}

export const paths = {
  projects: () => '/',
  project: (slug: string) => `/projects/${encodeURIComponent(slug)}`,
  compare: (slug: string, base?: string, target?: string) =>
    `/projects/${encodeURIComponent(slug)}/compare` + (base && target ? `?${new URLSearchParams({ base, target }).toString()}` : ''),
  policy: (slug: string, env: string) => `/projects/${encodeURIComponent(slug)}/environments/${encodeURIComponent(env)}/policy`,
  deployment: (id: string) => `/deployments/${encodeURIComponent(id)}`,
  insights: (slug: string, env?: string, days?: number) =>
    `/projects/${encodeURIComponent(slug)}/insights` +
    (env ? `?${new URLSearchParams({ env, ...(days ? { days: String(days) } : {}) }).toString()}` : ''),
  settings: (slug: string) => `/projects/${encodeURIComponent(slug)}/settings`,
};

export type Route =
  | { page: 'projects' }
  | { page: 'pipeline'; slug: string }
  | { page: 'compare'; slug: string }
  | { page: 'policy'; slug: string; env: string }
  | { page: 'deployment'; id: string }
  | { page: 'insights'; slug: string }
  | { page: 'settings'; slug: string }
  | { page: 'not-found' };

const decode = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
};

export function match(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/projects') return { page: 'projects' };
  // A deployment id is opaque (base64 may hold '/'): everything after /deployments/.
  if (path.startsWith('/deployments/')) return { page: 'deployment', id: decode(path.slice('/deployments/'.length)) };
  const parts = path.split('/').slice(1);
  if (parts[0] === 'projects' && parts[1]) {
    const slug = decode(parts[1]);
    if (parts.length === 2) return { page: 'pipeline', slug };
    if (parts.length === 3 && parts[2] === 'compare') return { page: 'compare', slug };
    if (parts.length === 3 && parts[2] === 'insights') return { page: 'insights', slug };
    if (parts.length === 3 && parts[2] === 'settings') return { page: 'settings', slug };
    if (parts.length === 5 && parts[2] === 'environments' && parts[4] === 'policy' && parts[3]) {
      return { page: 'policy', slug, env: decode(parts[3]) };
    }
  }
  return { page: 'not-found' };
}
