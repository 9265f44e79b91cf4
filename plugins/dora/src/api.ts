import { createApiRef } from '@backstage/frontend-plugin-api';
import type { DoraApi } from '@internal/plugin-dora-common';

export const doraApiRef = createApiRef<DoraApi>({ id: 'plugin.dora' });
