export * from './app';
export * from './deps';
export * from './problem';
export * from './masking';
