/**
 * One pino root logger for the whole process, shared with Fastify (`loggerInstance`) and handed to each
 * plugin as a child. Redaction and the error serializers are applied with a child so that a logger passed in
 * by a test keeps them too.
 */
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config';
import { LOG_SERIALIZERS } from './errors';

export interface LoggerOptions {
  level: LogLevel;
  redact: string[];
  /** A logger to build on (tests pass a silent one); a new stdout logger otherwise. */
  base?: Logger;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = options.base ?? pino({ level: options.level, base: { service: 'tandem' } });
  return base.child({}, { redact: { paths: options.redact, censor: '[redacted]' }, serializers: LOG_SERIALIZERS });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
