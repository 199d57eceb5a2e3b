// Small accessible building blocks shared by the pages.
import { useEffect, useId, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import type { ServerError } from '../api.ts';
import { formatTime, percent, sentence } from '../format.ts';

// Glyphs found in common text fonts (no emoji font needed); decoration only, beside the words.
const STATUS_ICON: Record<string, string> = {
  QUEUED: '○',
  PENDING_APPROVAL: '◆',
  WAITING: '‖',
  RUNNING: '▶',
  SUCCEEDED: '✓',
  FAILED: '✗',
  CANCELLED: '⊘',
  REJECTED: '✗',
  EXPIRED: '◌',
  PENDING: '○',
  SKIPPED: '↷',
  DELIVERED: '✓',
  RETRYING: '↻',
};

/** A status as words (and an icon, and a colour): never colour alone. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`status status-${status.toLowerCase().replace(/_/g, '-')}`}>
      <span aria-hidden="true" className="status-icon">
        {STATUS_ICON[status] ?? '•'}
      </span>
      {sentence(status)}
    </span>
  );
}

export function ProgressBar({ progress, label }: { progress: number; label: string }) {
  const value = percent(progress);
  return (
    <div className="progress">
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        aria-valuetext={`${value}%`}
        className="progress-track"
      >
        <div className="progress-fill" style={{ width: `${value}%` }} />
      </div>
      <span className="progress-text" aria-hidden="true">
        {value}%
      </span>
    </div>
  );
}

/** The server's errors, as it said them (code and message), with the failed checks it named. */
export function ErrorList({ errors, title }: { errors: readonly ServerError[]; title?: string }) {
  return (
    <div role="alert" className="error-box">
      {title ? <p className="error-title">{title}</p> : null}
      {errors.map((error, i) => {
        const failed = error.extensions.failedChecks;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list of one response's errors, never reordered
          <div key={i}>
            <p>
              {error.code ? <strong className="error-code">{error.code}</strong> : null}
              {error.code ? ' ' : null}
              <span className="error-message">{error.message}</span>
            </p>
            {Array.isArray(failed) && failed.length > 0 ? (
              <ul className="failed-checks" aria-label="Failed checks">
                {failed.map((check) => (
                  <li key={String(check)}>
                    <code>{String(check)}</code>
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return null;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** The page's heading; focused after a navigation so screen readers announce the new page. */
export function PageTitle({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (document.activeElement === document.body || document.activeElement?.tagName === 'A') ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export interface ConfirmRequest {
  /** The action's name: the confirm button reads the same as the button that opened the dialog. */
  action: string;
  title: string;
  body: ReactNode;
  /** Asks for an optional comment (approvals and rejections). */
  comment?: { label: string };
  run(comment: string | undefined): void;
}

// While a modal dialog is open the page behind it is inert; the shell also hides itself from the
// accessibility tree then (aria-hidden), so "the button named Promote" means the dialog's one.
let openDialogs = 0;
const dialogListeners = new Set<() => void>();
const setOpenDialogs = (n: number) => {
  openDialogs = n;
  for (const listener of [...dialogListeners]) listener();
};
export function useDialogOpen(): boolean {
  return useSyncExternalStore(
    (listener) => {
      dialogListeners.add(listener);
      return () => void dialogListeners.delete(listener);
    },
    () => openDialogs > 0,
  );
}

/** A modal confirmation (<dialog>, role dialog) whose confirm button has the action's name. */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const commentId = useId();
  const [comment, setComment] = useState('');
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    setOpenDialogs(openDialogs + 1);
    return () => {
      dialog?.close();
      setOpenDialogs(openDialogs - 1);
    };
  }, []);
  return createPortal(
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className="dialog"
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          onClose();
          request.run(comment.trim() || undefined);
        }}
      >
        <h2 id={titleId}>{request.title}</h2>
        <div className="dialog-body">{request.body}</div>
        {request.comment ? (
          <p className="field">
            <label htmlFor={commentId}>{request.comment.label}</label>
            <textarea id={commentId} rows={3} value={comment} onChange={(e) => setComment(e.target.value)} />
          </p>
        ) : null}
        <div className="dialog-actions">
          <button type="button" className="button-secondary" onClick={onClose}>
            Go back
          </button>
          {/* biome-ignore lint/a11y/noAutofocus: the modal dialog pattern moves focus into the dialog it opens */}
          <button type="submit" className={`button-primary ${/reject|cancel|roll/i.test(request.action) ? 'button-danger' : ''}`} autoFocus>
            {request.action}
          </button>
        </div>
      </form>
    </dialog>,
    document.body,
  );
}
