/** `@tandem/core/plugin`: everything a plugin author needs, and nothing of core's internals. */
export * from './connector';
export * from './policy';
export * from './definition';
export * from './errors';
export * from './tokens';
export * from './own-writes';
export * from './metrics';
export * from './network';
export * from './secrets';
export * from './abort';
export * from './http';
export * from './single-flight';
export * from './slots';
