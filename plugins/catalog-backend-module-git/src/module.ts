import {
  coreServices,
  createBackendModule,
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
} from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseGitIngestionStore } from './DatabaseGitIngestionStore';
import { GitEntityProvider } from './GitEntityProvider';
import { GitCli } from './git';
import { readProviderConfigs } from './config';
import { createStatusRouter } from './router';

export const catalogModuleGit = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'portico-git',
  register(reg) {
    reg.registerInit({
      deps: {
        catalog: catalogProcessingExtensionPoint,
        config: coreServices.rootConfig,
        database: coreServices.database,
        logger: coreServices.logger,
        scheduler: coreServices.scheduler,
        httpRouter: coreServices.httpRouter,
      },
      async init({ catalog, config, database, logger, scheduler, httpRouter }) {
        const providers = readProviderConfigs(config);
        // The status API answers (with no repositories) even before any provider is configured.
        const store = await DatabaseGitIngestionStore.create({ database });
        httpRouter.use(
          createStatusRouter({
            store,
            providerIds: providers.map(p => p.settings.id),
          }),
        );
        // Bare mirrors of the repositories, fetched shallowly; safe to delete, refetched when missing.
        const cacheRoot =
          config.getOptionalString('backend.workingDirectory') ?? tmpdir();
        for (const provider of providers) {
          catalog.addEntityProvider(
            new GitEntityProvider(provider.settings, {
              git: new GitCli({
                cacheDir: join(cacheRoot, 'portico-git', provider.settings.id),
                timeoutMs: provider.timeoutSeconds * 1000,
                token: provider.token,
              }),
              store,
              logger: logger.child({ provider: provider.settings.id }),
              taskRunner: scheduler.createScheduledTaskRunner(
                readSchedulerServiceTaskScheduleDefinitionFromConfig(
                  provider.schedule,
                ),
              ),
            }),
          );
        }
      },
    });
  },
});
