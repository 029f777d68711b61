export * from './protocol.js';
export * from './services.js';
export * from './workloads.js';
export * from './endpoints.js';
export * from './registry.js';
export { compileLabelSelector, labelsMatch } from './selectors.js';
