// The gateway's JSON logger. Secrets are redacted by key wherever they appear in a logged object.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const REDACT = [
  'secret',
  'token',
  'password',
  '*.secret',
  '*.token',
  '*.password',
  'headers.cookie',
  'headers.authorization',
  'headers["x-csrftoken"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
