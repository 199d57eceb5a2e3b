// What the CLI prints. Data on stdout: tables (a terminal gets colour), or JSON with --json;
// messages and errors on stderr. A deployment's events: on a terminal, a line each above a live
// progress bar; otherwise one plain line each (no escape codes); with --json, NDJSON.
import cliProgress from 'cli-progress';

type Stream = NodeJS.WriteStream;

/** Colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb. */
export function colorEnabled(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (!stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;
export type Style = keyof typeof CODES;

export interface Painter {
  (style: Style | null, text: string): string;
  enabled: boolean;
}

export function painter(enabled: boolean): Painter {
  const paint = ((style: Style | null, text: string) => {
    if (!enabled || !style || text === '') return text;
    const [open, close] = CODES[style];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }) as Painter;
  paint.enabled = enabled;
  return paint;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const visibleLength = (text: string) => text.replace(ANSI, '').length;

/** The colour of a deployment status. */
export function statusStyle(status: string | null | undefined): Style | null {
  switch (status) {
    case 'SUCCEEDED':
      return 'green';
    case 'FAILED':
    case 'REJECTED':
    case 'EXPIRED':
      return 'red';
    case 'CANCELLED':
      return 'yellow';
    case 'RUNNING':
      return 'cyan';
    case 'PENDING_APPROVAL':
    case 'WAITING':
    case 'QUEUED':
      return 'blue';
    default:
      return null;
  }
}

/** Columns aligned with spaces; the header bold where colour is on. */
export function table(headers: string[], rows: string[][], paint: Painter): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [paint('bold', line(headers)), ...rows.map(line)].join('\n');
}

export interface EventLike {
  seq: number;
  deploymentId: string;
  type: string;
  status: string;
  step?: string | null;
  progress?: number | null;
  message?: string | null;
  at: string;
}

const percent = (p: number) => `${Math.round(p * 100)}%`;

/** One line for an event: `#3 STEP_PROGRESS status=RUNNING step=deploy progress=50% message`. */
export function eventLine(event: EventLike, paint: Painter = painter(false)): string {
  const parts = [paint('dim', `#${event.seq}`), paint('bold', event.type), `status=${paint(statusStyle(event.status), event.status)}`];
  if (event.step) parts.push(`step=${event.step}`);
  if (typeof event.progress === 'number') parts.push(`progress=${percent(event.progress)}`);
  if (event.message) parts.push(event.message.replace(/[\r\n]+/g, ' '));
  return parts.join(' ');
}

export const TERMINAL_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED']);

/** Everything a command prints goes through here. */
export class Output {
  readonly out: Painter;
  readonly err: Painter;

  constructor(
    readonly json: boolean,
    readonly stdout: Stream = process.stdout,
    readonly stderr: Stream = process.stderr,
    env: Record<string, string | undefined> = process.env,
  ) {
    this.out = painter(!json && colorEnabled(stdout, env));
    this.err = painter(colorEnabled(stderr, env));
  }

  /** Whether stdout is a terminal (tables and the live progress bar). */
  get interactive(): boolean {
    return !this.json && Boolean(this.stdout.isTTY);
  }

  data(text: string) {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  jsonValue(value: unknown) {
    this.stdout.write(`${JSON.stringify(value, null, this.stdout.isTTY ? 2 : undefined)}\n`);
  }

  /** One JSON value on one line (NDJSON). */
  jsonLine(value: unknown) {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  notice(text: string) {
    this.stderr.write(`${text}\n`);
  }

  error(text: string) {
    this.stderr.write(`${this.err('red', 'stageplane:')} ${text}\n`);
  }
}

/** How a followed deployment's events are shown. */
export interface EventView {
  event(event: EventLike): void;
  /** Overall progress 0..1 and what is going on, when known better than the events tell. */
  progress(value: number, label?: string): void;
  /** A message while following (connection lost, reconnected ...). */
  notice(text: string): void;
  stop(): void;
}

/** On a terminal: event lines above a live bar. Otherwise plain lines; with --json, NDJSON. */
export function eventView(output: Output, title: string): EventView {
  if (output.json) {
    return { event: (e) => output.jsonLine(e), progress() {}, notice: (t) => output.notice(t), stop() {} };
  }
  if (!output.interactive) {
    return { event: (e) => output.data(eventLine(e)), progress() {}, notice: (t) => output.notice(t), stop() {} };
  }
  const paint = output.out;
  const multibar = new cliProgress.MultiBar(
    {
      stream: output.stdout,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      barsize: 30,
      fps: 10,
      barCompleteChar: paint.enabled ? '\u2588' : '#',
      barIncompleteChar: paint.enabled ? '\u2591' : '-',
      format: (options, params, payload: { title: string; status: string; label: string }) => {
        const bar = cliProgress.Format.BarFormat(params.progress, options);
        const pct = `${String(Math.round(params.progress * 100)).padStart(3)}%`;
        return `${payload.title} ${paint(statusStyle(payload.status), bar)} ${pct} ${paint(statusStyle(payload.status), payload.status)} ${paint('dim', payload.label)}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multibar.create(1000, 0, { title, status: 'QUEUED', label: '' });
  let value = 0;
  let status = 'QUEUED';
  let label = '';
  let stopped = false;
  const render = () => bar.update(Math.round(value * 1000), { title, status, label });
  // The bar hides the cursor; an exit before stop() (a second Ctrl-C) shows it again.
  const restoreCursor = () => output.stdout.write('\u001b[?25h');
  process.once('exit', restoreCursor);
  return {
    event(e) {
      if (stopped) return;
      status = e.status;
      if (e.step) label = e.step;
      // v2: the probes after the deploy steps (their counts and outcome are in the event messages).
      if (e.type.startsWith('VERIFICATION_') || e.type === 'ROLLBACK_STARTED')
        label = e.type === 'ROLLBACK_STARTED' ? 'rolling back' : 'verification';
      if (e.type === 'SUCCEEDED') value = 1;
      multibar.log(`${eventLine(e, paint)}\n`);
      render();
    },
    progress(v, l) {
      if (stopped) return;
      value = Math.max(0, Math.min(1, v));
      if (l !== undefined) label = l;
      render();
    },
    notice(text) {
      if (stopped) return output.notice(text);
      // On the same terminal as the bar: above it, not through it.
      if (output.stderr.isTTY) multibar.log(`${output.err('yellow', text)}\n`);
      else output.notice(text);
      render();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', restoreCursor);
      render();
      // Writes the lines logged since the last frame (stop() alone would drop them), then the final bar.
      (multibar as unknown as { update(): void }).update();
      multibar.stop();
    },
  };
}
