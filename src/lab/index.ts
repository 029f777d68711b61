export * from './apps/index.js';
