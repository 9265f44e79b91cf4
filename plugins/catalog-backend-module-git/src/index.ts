/**
 * Portico's Git ingestion: a catalog module that reads descriptor files from any Git server.
 *
 * @packageDocumentation
 */
export { catalogModuleGit as default } from './module';
