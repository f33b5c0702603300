export * from './discover';
export * from './load';
export * from './host';
export * from './sandboxes';
