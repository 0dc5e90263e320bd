// A pino destination that keeps every log line in memory, parsed, so tests can read fields.
import { createLogger, type Logger } from '../../gateway/log.js';

export interface CapturedLog {
  readonly log: Logger;
  /** Every line as written (raw JSON text). */
  readonly raw: string[];
  /** Every line parsed. */
  entries(): Record<string, unknown>[];
  /** Lines whose `event` field is `event`. */
  events(event: string): Record<string, unknown>[];
}

export function captureLog(level = 'info'): CapturedLog {
  const raw: string[] = [];
  const log = createLogger(level, { write: (line: string) => void raw.push(line) });
  const entries = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, raw, entries, events: (event) => entries().filter((e) => e.event === event) };
}
