// How values read on the page. Statuses read as the same words as their enum value, in sentence
// case ("Pending approval"), always as text beside their colour.
export const sentence = (value: string) => {
  const words = value.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED']);
export const isTerminal = (status: string) => TERMINAL.has(status);

export const shortSha = (sha: string) => sha.slice(0, 7);

export const percent = (progress: number) => Math.max(0, Math.min(100, Math.round(progress * 100)));

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export const TRIGGER_LABEL: Record<string, string> = {
  AUTO_ON_PUSH: 'Deploys on push',
  MANUAL_PROMOTE: 'Manual promote',
  APPROVAL_REQUIRED: 'Approval required',
};
