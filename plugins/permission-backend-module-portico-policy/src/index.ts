/**
 * Portico's permission policy for the permission backend.
 *
 * @packageDocumentation
 */
export { permissionModulePorticoPolicy as default } from './module';
export { PorticoPermissionPolicy } from './policy';
