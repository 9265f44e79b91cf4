/**
 * Portico's DORA metrics in the portal: the DORA page, a DORA tab on components and systems, and a
 * DORA card on groups.
 *
 * @packageDocumentation
 */
import { createFrontendPlugin } from '@backstage/frontend-plugin-api';
import { doraApi } from './alpha/apis';
import { doraGroupCard } from './alpha/entityCards';
import { doraEntityContent } from './alpha/entityContent';
import { doraPage } from './alpha/pages';

export { doraApiRef } from './api';

export default createFrontendPlugin({
  pluginId: 'dora',
  extensions: [doraApi, doraPage, doraEntityContent, doraGroupCard],
});
