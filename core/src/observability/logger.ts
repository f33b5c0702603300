/**
 * One pino root logger for the whole process, shared with Fastify (`loggerInstance`) and handed to each
 * plugin as a child. Redaction and the error serializers are applied with a child so that a logger passed in
 * by a test keeps them too. On a terminal the lines are pretty-printed (pino-pretty, in this thread, so that
 * nothing is lost at exit); anywhere else, one JSON object a line, for log collectors.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '../config';
import { LOG_SERIALIZERS } from './errors';

export interface LoggerOptions {
  level: LogLevel;
  redact: string[];
  /** A logger to build on (tests pass a silent one); a new stdout logger otherwise. */
  base?: Logger;
}

/** Readable lines for a person at a terminal, from the same (already redacted) records. */
export function prettyStream(destination: NodeJS.WritableStream = process.stdout): DestinationStream {
  return pretty({
    destination,
    sync: true,
    colorize: (destination as NodeJS.WriteStream).isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}

/** The process's root logger: pretty when stdout is a terminal, JSON lines otherwise. */
export function rootLogger(level: LogLevel, stdout: NodeJS.WriteStream = process.stdout): Logger {
  const options = { level, base: { service: 'tandem' }, serializers: LOG_SERIALIZERS };
  if (stdout.isTTY) return pino(options, prettyStream(stdout));
  // pino's own destination for the process's stdout (fast, synchronous); a given stream as it is.
  return stdout === process.stdout ? pino(options) : pino(options, stdout);
}

export function createLogger(options: LoggerOptions): Logger {
  const base = options.base ?? rootLogger(options.level);
  return base.child({}, { redact: { paths: options.redact, censor: '[redacted]' }, serializers: LOG_SERIALIZERS });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
