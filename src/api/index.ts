export * from './kinds.js';
export * from './resource.js';
export * from './types.js';
export * from './load.js';
export * from './validation.js';
export * from './fields.js';
export * from './goparse.js';
export * from './validate-networking.js';
import './validate-security.js';
