export * from './logger';
export * from './metrics';
export * from './redaction';
export * from './errors';
export * from './connection-metrics';
