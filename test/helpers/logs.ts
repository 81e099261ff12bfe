/** A logger that records its JSON lines, so tests can assert what was (and was not) logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import type { LogLevel } from '../../src/config/index.js';

export interface RecordedLog {
  readonly logger: Logger;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
  text(): string;
}

export function recordingLogger(level: LogLevel = 'debug'): RecordedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger(level, sink);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
