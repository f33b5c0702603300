export * from './mongo';
export * from './embedded';
export * from './jongodb';
export * from './errors';
