export * from './kinds.js';
export * from './resource.js';
export * from './load.js';
