/** `@tandem/core/testing`: helpers shared by sandboxes, tests and benchmarks. */
export * from './sample-people';
export * from './mongo';
export * from './plugin';
export * from './conformance';
export * from './memory-system';
export * from './memory-connector';
/** A MongoDB wire-protocol server as a process of its own, for tests that pause or kill it. */
export { startJongodb, type ChildServer } from '../db/jongodb';
