import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { eventsServiceRef } from '@backstage/plugin-events-node';
import { doraPermissions } from '@internal/plugin-dora-common';
import { DatabaseDoraStore } from './database/DatabaseDoraStore';
import { CatalogAttributor } from './service/attribution';
import { readDoraSettings, readSourceSettings } from './service/config';
import { DoraIngestor } from './service/DoraIngestor';
import { DoraService } from './service/DoraService';
import { createRouter } from './service/router';
import { resolveScope } from './service/scopes';
import { seedDemoHistory } from './service/demo';
import { subscribeToWebhooks } from './service/subscriber';

export const doraPlugin = createBackendPlugin({
  pluginId: 'dora',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        database: coreServices.database,
        logger: coreServices.logger,
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        auditor: coreServices.auditor,
        scheduler: coreServices.scheduler,
        catalog: catalogServiceRef,
        events: eventsServiceRef,
      },
      async init(deps) {
        const { config, auth, catalog, logger } = deps;
        const settings = readDoraSettings(config);
        const sources = readSourceSettings(config);
        const store = await DatabaseDoraStore.create({
          database: deps.database,
          timeZone: settings.timeZone,
        });
        const attributor = new CatalogAttributor(catalog, auth);
        const ingestor = new DoraIngestor(
          store,
          subjects => attributor.attributeAll(subjects),
          logger,
        );
        deps.permissionsRegistry.addPermissions(doraPermissions);
        if (settings.demoData) {
          // The demo catalog arrives through Git ingestion a little after start: try until it is there,
          // then keep the history up to today.
          await deps.scheduler.scheduleTask({
            id: 'dora-demo-history',
            frequency: { minutes: 1 },
            timeout: { minutes: 5 },
            initialDelay: { seconds: 10 },
            fn: () => seedDemoHistory({ store, catalog, auth, logger }),
          });
        }
        await subscribeToWebhooks({
          events: deps.events,
          ingestor,
          settings: sources,
          logger,
        });
        deps.httpRouter.use(
          createRouter({
            httpAuth: deps.httpAuth,
            permissions: deps.permissions,
            auditor: deps.auditor,
            ingestor,
            settings: sources,
            service: new DoraService({
              store,
              resolveScope: scope => resolveScope(scope, catalog, auth),
              benchmarks: settings.benchmarks,
              defaultBenchmark: settings.defaultBenchmark,
              timeZone: settings.timeZone,
            }),
          }),
        );
      },
    });
  },
});
