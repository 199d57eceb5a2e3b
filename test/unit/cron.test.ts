import { describe, it, expect } from 'vitest';
import { isValidCron } from '../../domain/cron.ts';

describe('isValidCron', () => {
  const valid = [
    '0 3 * * *',
    '* * * * *',
    '*/5 * * * *',
    '0 */2 * * *',
    '0-59 0-23 1-31 1-12 0-7',
    '59 23 31 12 7',
    '0 0 1 1 0',
    '0 9-17/2 * * 1-5',
    '0,15,30,45 * * * *',
    '0 0 1,15 * *',
    '1-5,10-20/5,30 * * * *',
    '0 0 * JAN *',
    '0 0 * jan-jun *',
    '0 0 * Dec *',
    '0 0 * JAN,JUL,dec *',
    '0 8 * * MON-FRI',
    '0 8 * * sun',
    '0 8 * * SAT,sun',
    '0 8 * * 7',
    '*/60 * * * *', // step equal to the span: only minute 0
    '0 0 */31 * *',
    '0 0 * */12 *',
    '0 0 * * */8',
    '  0 3 * * *  ', // surrounding whitespace
    '0\t3  *\t* *', // tabs and repeated spaces separate fields
    '00 03 * * *', // leading zeros
  ];
  for (const expr of valid) {
    it(`accepts ${JSON.stringify(expr)}`, () => expect(isValidCron(expr)).toBe(true));
  }

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['   ', 'blank'],
    ['* * * *', 'four fields'],
    ['0 0 3 * * *', 'six fields (seconds)'],
    ['0 0 3 * * * 2024', 'seven fields'],
    ['60 * * * *', 'minute out of range'],
    ['-1 * * * *', 'negative minute'],
    ['* 24 * * *', 'hour out of range'],
    ['* * 0 * *', 'day of month 0'],
    ['* * 32 * *', 'day of month 32'],
    ['* * * 0 *', 'month 0'],
    ['* * * 13 *', 'month 13'],
    ['* * * * 8', 'day of week 8'],
    ['5-1 * * * *', 'reversed range'],
    ['* * * * FRI-MON', 'reversed named range'],
    ['*/0 * * * *', 'step 0'],
    ['*/61 * * * *', 'step larger than the span'],
    ['* */25 * * *', 'hour step larger than the span'],
    ['5/15 * * * *', 'step after a single value'],
    ['*/5/2 * * * *', 'two steps'],
    ['1-2-3 * * * *', 'three-part range'],
    ['1,,2 * * * *', 'empty list item'],
    ['1, * * * *', 'trailing comma'],
    [',1 * * * *', 'leading comma'],
    ['*/ * * * *', 'empty step'],
    ['1- * * * *', 'open range'],
    ['a * * * *', 'letter'],
    ['1.5 * * * *', 'decimal'],
    ['+1 * * * *', 'sign'],
    ['1e1 * * * *', 'exponent'],
    ['0 0 * * MONDAY', 'long day name'],
    ['0 0 * JANUARY *', 'long month name'],
    ['0 0 MON * *', 'day name in day of month'],
    ['JAN 0 * * *', 'month name in minute'],
    ['0 0 * SUN *', 'day name in month'],
    ['0 0 * * JAN', 'month name in day of week'],
    ['@daily', 'macro'],
    ['@reboot', 'macro'],
    ['0 0 ? * *', 'Quartz ?'],
    ['0 0 L * *', 'Quartz L'],
    ['0 0 * * 1#2', 'Quartz #'],
    ['0 0 15W * *', 'Quartz W'],
    ['every night at three', 'prose'],
    ['0 3 * * *; rm -rf /', 'garbage after a field'],
    ['0 0 * * 1000', 'long number'],
  ];
  for (const [expr, why] of invalid) {
    it(`rejects ${JSON.stringify(expr)} (${why})`, () => expect(isValidCron(expr)).toBe(false));
  }

  it('rejects a non-string at run time', () => {
    expect(isValidCron(null as unknown as string)).toBe(false);
    expect(isValidCron(5 as unknown as string)).toBe(false);
  });
});
