/**
 * Test helpers shared by Portico's backend packages.
 *
 * @packageDocumentation
 */
export {
  createPorticoTestDatabases,
  type PorticoTestDatabases,
} from './databases';
export { eventually } from './eventually';
export { runTemplateTask } from './templates';
