// Types of the CommonJS entry: the ES module's own (require(esm) returns its namespace).
export * from '../dist/index.js';
