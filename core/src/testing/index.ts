/** `@tandem/core/testing`: helpers shared by sandboxes, tests and benchmarks. */
export * from './sample-people';
export * from './mongo';
export * from './plugin';
/** A MongoDB wire-protocol server as a process of its own, for tests that pause or kill it. */
export { startJongodb, type ChildServer } from '../db/jongodb';
