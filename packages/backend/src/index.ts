import { createBackend } from '@backstage/backend-defaults';
import { rootHttpRouter } from './rootHttpRouter';
import { scaffolderFeatures } from './scaffolder';

const backend = createBackend();

backend.add(rootHttpRouter);

backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-proxy-backend'));

backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(import('@backstage/plugin-auth-backend-module-github-provider'));

backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(
  import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'),
);
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));
backend.add(import('@internal/plugin-catalog-backend-module-git'));
backend.add(import('@internal/plugin-catalog-backend-module-git/url-reader'));
// Backstage's own GitHub and GitLab discovery: idle until catalog.providers.github/gitlab is configured.
backend.add(import('@backstage/plugin-catalog-backend-module-github'));
backend.add(import('@backstage/plugin-catalog-backend-module-gitlab'));

backend.add(import('@backstage/plugin-permission-backend'));
backend.add(
  import('@internal/plugin-permission-backend-module-portico-policy'),
);

for (const feature of scaffolderFeatures) backend.add(feature);

backend.add(import('@backstage/plugin-techdocs-backend'));

backend.add(import('@backstage/plugin-search-backend'));
backend.add(import('@backstage/plugin-search-backend-module-pg'));
backend.add(import('@backstage/plugin-search-backend-module-catalog'));
backend.add(import('@backstage/plugin-search-backend-module-techdocs'));

backend.add(import('@backstage/plugin-kubernetes-backend'));
backend.add(import('@backstage/plugin-user-settings-backend'));
backend.add(import('@backstage/plugin-notifications-backend'));
backend.add(import('@backstage/plugin-signals-backend'));

// Webhooks arrive through the events plugin; DORA reads them (see plugins/dora-backend).
backend.add(import('@backstage/plugin-events-backend'));
backend.add(import('@internal/plugin-dora-backend/webhooks'));
backend.add(import('@internal/plugin-dora-backend'));

backend.start();
