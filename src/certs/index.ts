export * from './generate.js';
export * from './digest.js';
export * from './inspect.js';
