import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { GitProviderSettings } from './GitEntityProvider';

const DEFAULT_FILES = ['catalog-info.yaml', '.backstage/*.yaml'];

export interface ProviderConfig {
  settings: GitProviderSettings;
  token?: string;
  timeoutSeconds: number;
  schedule: Config;
}

/** Reads `catalog.providers.git`; a provider without repositories or schedule is a configuration error. */
export function readProviderConfigs(config: Config): ProviderConfig[] {
  const providers = config.getOptionalConfig('catalog.providers.git');
  if (!providers) return [];
  return providers.keys().map(id => {
    const provider = providers.getConfig(id);
    const prefix = provider.getOptionalString('remotePrefix');
    const names = provider.getOptionalStringArray('repositories') ?? [];
    if (names.length && !prefix) {
      throw new InputError(
        `catalog.providers.git.${id}.repositories needs remotePrefix to make URLs of the names`,
      );
    }
    const repositories = [
      ...(provider.getOptionalStringArray('remotes') ?? []),
      ...names.map(name => `${prefix}${name}`),
    ];
    const withCredentials = repositories.find(url =>
      /^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url),
    );
    if (withCredentials) {
      throw new InputError(
        `catalog.providers.git.${id}: remote ${withCredentials.replace(
          /\/\/[^/@]*@/,
          '//***@',
        )} holds a password; use the token setting instead`,
      );
    }
    if (repositories.length === 0) {
      throw new InputError(
        `catalog.providers.git.${id} lists no repositories: set remotes, or remotePrefix and repositories`,
      );
    }
    return {
      settings: {
        id,
        repositories: [...new Set(repositories)],
        branch: provider.getOptionalString('branch'),
        files: provider.getOptionalStringArray('files') ?? DEFAULT_FILES,
      },
      token: provider.getOptionalString('token'),
      timeoutSeconds: provider.getOptionalNumber('timeoutSeconds') ?? 120,
      schedule: provider.getConfig('schedule'),
    };
  });
}
