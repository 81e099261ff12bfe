export * from './webhookServer.js';
export * from './admissionHandler.js';
export * from './facts.js';
export * from './metrics.js';
export * from './httpServer.js';
export * from './tlsReloader.js';
