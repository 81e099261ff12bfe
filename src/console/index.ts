export * from './types.js';
export * from './console.js';
export * from './handler.js';
export * from './static.js';
