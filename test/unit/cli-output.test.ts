// What the CLI prints (cli/output.ts): colour only on a terminal and never with NO_COLOR, plain
// event lines, aligned tables.
import { describe, expect, it } from 'vitest';
import { colorEnabled, eventLine, painter, table } from '../../cli/output.ts';

const event = {
  seq: 7,
  deploymentId: 'RGVw',
  type: 'STEP_PROGRESS',
  status: 'RUNNING',
  step: 'deploy',
  progress: 0.5,
  message: 'half\nway',
  at: '2026-01-01T00:00:00.000Z',
};

describe('cli output', () => {
  it('colours a terminal only, and never with NO_COLOR (any non-empty value) or TERM=dumb', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });

  it('prints one plain line per event, with no escape codes unless colour is on', () => {
    expect(eventLine(event)).toBe('#7 STEP_PROGRESS status=RUNNING step=deploy progress=50% half way');
    expect(eventLine({ ...event, type: 'SUCCEEDED', status: 'SUCCEEDED', step: null, progress: null, message: null })).toBe(
      '#7 SUCCEEDED status=SUCCEEDED',
    );
    const coloured = eventLine(event, painter(true));
    expect(coloured).toContain('\u001b[36mRUNNING\u001b[39m');
    expect(coloured.replace(/\u001b\[\d+m/g, '')).toBe(eventLine(event));
  });

  it('prints the verification lines with their outcome (watch, v2)', () => {
    const v = { ...event, step: null, progress: null };
    expect(
      eventLine({
        ...v,
        type: 'VERIFICATION_FAILED',
        message: 'Verification failed: 3 consecutive failures (last: HTTP 503 (expected 200))',
      }),
    ).toBe('#7 VERIFICATION_FAILED status=RUNNING Verification failed: 3 consecutive failures (last: HTTP 503 (expected 200))');
    expect(eventLine({ ...v, type: 'ROLLBACK_STARTED', message: 'Automatic rollback to abc1234 started: deployment RGVw' })).toContain(
      'ROLLBACK_STARTED status=RUNNING Automatic rollback to abc1234 started',
    );
  });

  it('aligns table columns, colour or not', () => {
    const rows = [
      ['development', painter(true)('green', 'passed')],
      ['production', 'failed'],
    ];
    expect(table(['ENV', 'POLICY'], rows, painter(false)).replace(/\u001b\[\d+m/g, '')).toBe(
      ['ENV          POLICY', 'development  passed', 'production   failed'].join('\n'),
    );
  });
});
