export * from './conventions.js';
export * from './schema.js';
export * from './load.js';
export * from './limits.js';
export * from './agentStackEnv.js';
export * from './unknownEnv.js';
