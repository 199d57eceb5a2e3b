import pino, { type Logger } from 'pino';

/** Paths pino blanks in every line: credentials can never reach the log, even by accident. */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'password',
  'value',
  'secret',
  '*.authorization',
  '*.token',
  '*.password',
  '*.value',
  '*.secret',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'connectionParams.authorization',
  'variables',
  '*.variables',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'stageplane' } }, destination);
}
