/**
 * Types, metric definitions, benchmark tables, permissions and the API client of Portico's DORA plugins.
 *
 * @packageDocumentation
 */
export * from './types';
export * from './benchmarks';
export * from './definitions';
export * from './permissions';
export * from './client';
