export * from './config.js';
export * from './generate.js';
export * from './manager.js';
export * from './rotation.js';
export * from './sealer.js';
export * from './signer.js';
