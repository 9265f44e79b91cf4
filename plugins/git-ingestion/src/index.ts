/**
 * The Git ingestion status page of Portico.
 *
 * @packageDocumentation
 */
import { createFrontendPlugin } from '@backstage/frontend-plugin-api';
import { ingestionStatusPage } from './alpha/pages';

export default createFrontendPlugin({
  pluginId: 'git-ingestion',
  extensions: [ingestionStatusPage],
});
