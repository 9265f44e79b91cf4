/**
 * Test helpers shared by Portico's backend packages.
 *
 * @packageDocumentation
 */
export { createPorticoTestDatabases } from './databases';
export { eventually } from './eventually';
