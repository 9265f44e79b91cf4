/**
 * A URL reader for the Git provider's remotes, for `backend.add`: lets TechDocs and every other reader
 * read files from any Git server the catalog ingests from.
 *
 * @packageDocumentation
 */
export { gitUrlReaderFactory as default } from './urlReader';
