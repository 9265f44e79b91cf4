import {
  coreServices,
  createBackendModule,
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
} from '@backstage/backend-plugin-api';
import { ScmIntegrations } from '@backstage/integration';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { DatabaseGitIngestionStore } from './DatabaseGitIngestionStore';
import { GitEntityProvider } from './GitEntityProvider';
import {
  createGitClient,
  providerRemotes,
  readProviderConfigs,
  removeAbandonedGitCaches,
} from './config';
import { createStatusRouter } from './router';
import { HostType, remoteHost } from './locations';
import { TemplateFetchUrlProcessor } from './TemplateFetchUrlProcessor';
import { ViewUrlProcessor } from './ViewUrlProcessor';

const WEB_HOST_TYPES: string[] = ['github', 'gitlab', 'gitea'] as HostType[];

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
        // In the background: a cache left by a crash can be large, and nothing here needs it gone first.
        removeAbandonedGitCaches(config).then(
          removed =>
            removed.length &&
            logger.info(`Removed abandoned Git caches: ${removed.join(', ')}`),
          error =>
            logger.warn(`Could not remove abandoned Git caches: ${error}`),
        );
        // The status API answers (with no repositories) even before any provider is configured.
        const store = await DatabaseGitIngestionStore.create({ database });
        httpRouter.use(
          createStatusRouter({
            store,
            providerIds: providers.map(p => p.settings.id),
          }),
        );
        // Hosts with a known web UI, from `integrations` (github.com and gitlab.com are always known).
        const integrations = ScmIntegrations.fromConfig(config);
        const hostType = (remote: string) => {
          const host = remoteHost(remote);
          const type = host && integrations.byHost(host)?.type;
          return type && WEB_HOST_TYPES.includes(type)
            ? (type as HostType)
            : undefined;
        };
        catalog.addProcessor(
          new ViewUrlProcessor(),
          new TemplateFetchUrlProcessor(
            integrations,
            providers.flatMap(providerRemotes),
          ),
        );
        for (const provider of providers) {
          const providerLogger = logger.child({
            provider: provider.settings.id,
          });
          catalog.addEntityProvider(
            new GitEntityProvider(provider.settings, {
              git: createGitClient(
                config,
                provider,
                'provider',
                providerLogger,
              ),
              store,
              hostType,
              logger: providerLogger,
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
