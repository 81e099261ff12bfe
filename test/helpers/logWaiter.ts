/** A logger whose lines a test can wait for, in order: each `next` looks only after the line the last one returned. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logging/logger.js';

export type LogLine = Record<string, unknown>;

export interface LogWaiter {
  readonly logger: Logger;
  lines(): LogLine[];
  /** The next line (after the last one `next` returned) that matches; waits for it if need be. */
  next(match: (line: LogLine) => boolean): Promise<LogLine>;
}

export function logWaiter(): LogWaiter {
  const lines: LogLine[] = [];
  let cursor = 0;
  let partial = '';
  let wake: (() => void) | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        const l = partial.slice(0, i).trim();
        partial = partial.slice(i + 1);
        if (l) lines.push(JSON.parse(l) as LogLine);
      }
      wake?.();
      cb();
    },
  });
  return {
    logger: createLogger('debug', sink),
    lines: () => [...lines],
    async next(match) {
      for (;;) {
        while (cursor < lines.length) {
          const l = lines[cursor++]!;
          if (match(l)) return l;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
