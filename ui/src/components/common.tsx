// Small shared pieces: error and warning boxes, loading state, label chips, relative times.
import type { ComponentChildren } from 'preact';
import { linkClick } from '../router';

export function ErrorBox({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <div class="msg msg-error" role="alert">
      <strong>Error:</strong> {error}
    </div>
  );
}

export function Warnings({ warnings }: { warnings: string[] | undefined }) {
  if (!warnings || warnings.length === 0) return null;
  return (
    <div class="msg msg-warn" role="status">
      {warnings.map((w) => (
        <div>
          <strong>Warning:</strong> {w}
        </div>
      ))}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return <div class="muted loading">Loading{what ? ` ${what}` : ''}…</div>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Link(props: { href: string; class?: string; children: ComponentChildren; title?: string }) {
  return (
    <a href={props.href} class={props.class} title={props.title} onClick={linkClick}>
      {props.children}
    </a>
  );
}

export function LabelChips({ labels, skip }: { labels: Record<string, string>; skip?: string[] }) {
  const keys = Object.keys(labels)
    .filter((k) => !skip?.includes(k))
    .sort();
  return (
    <span class="chips">
      {keys.map((k) => (
        <span class="chip">
          {k}=<b>{labels[k]}</b>
        </span>
      ))}
    </span>
  );
}

/** "3m ago", "in 2h" from an RFC3339 time; "" for the zero time. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) return 'never';
  const d = Math.round((now - t) / 1000);
  const a = Math.abs(d);
  const txt = a < 60 ? `${a}s` : a < 3600 ? `${Math.floor(a / 60)}m` : a < 86400 ? `${Math.floor(a / 3600)}h` : `${Math.floor(a / 86400)}d`;
  return d >= 0 ? `${txt} ago` : `in ${txt}`;
}

export function absTime(iso: string | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) return '';
  return new Date(t).toLocaleString();
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge badge-${state.toLowerCase()}`}>{state}</span>;
}
