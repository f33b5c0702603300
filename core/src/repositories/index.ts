export * from './pipelines';
export * from './policy-settings';
export * from './audit';
