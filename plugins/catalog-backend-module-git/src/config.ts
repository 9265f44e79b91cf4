import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { randomUUID } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isGlob, isLocalRemote, RepositoryDiscovery } from './discovery';
import { GitProviderSettings } from './GitEntityProvider';
import { GitCli } from './git';
import { remoteUrl } from './locations';

const DEFAULT_FILES = [
  'catalog-info.yaml',
  'catalog-info.yml',
  '.backstage/*.yaml',
  '.backstage/*.yml',
];

export interface ProviderConfig {
  settings: GitProviderSettings;
  token?: string;
  timeoutSeconds: number;
  schedule: Config;
}

const cacheRoot = (config: Config) =>
  config.getOptionalString('backend.workingDirectory') ?? tmpdir();

const CLIENT_USES = ['provider', 'reader'] as const;

// `<provider id>.<host>.<pid>.<uuid>`: ids (config keys) hold no dot, and host names no other character.
const CACHE_NAME =
  /^[\w-]+\.(?<host>[\w.-]+)\.(?<pid>\d+)\.[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;
// Before 2026-12-05: `<provider id>-<uuid>`, by backends that are gone by now.
const EARLIER_CACHE_NAME =
  /^[\w-]+-[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

/** The caches this process made: a backend restarted in a container often has the pid of the one before. */
const ownCaches = new Set<string>();

/**
 * The Git client of a provider, for the provider itself or for the URL reader. Its cache directory, under
 * `backend.workingDirectory` (else the system's temporary directory), has a name of its own: another
 * backend on the host may share that root, and each client removes its cache whenever it is done with it.
 * The name holds the host and the process id, so that a later backend can tell a cache whose process is gone.
 */
export function createGitClient(
  config: Config,
  provider: ProviderConfig,
  use: (typeof CLIENT_USES)[number],
  logger: LoggerService,
): GitCli {
  const name = [provider.settings.id, hostname(), process.pid, randomUUID()];
  const cacheDir = join(
    cacheRoot(config),
    `portico-git-${use}`,
    name.join('.'),
  );
  ownCaches.add(cacheDir);
  return new GitCli({
    cacheDir,
    timeoutMs: provider.timeoutSeconds * 1000,
    token: provider.token,
    logger,
  });
}

/**
 * Removes the Git caches of this host's processes that are gone: a backend that crashed or was killed while
 * it synced leaves its cache behind. Also those of earlier versions, among them the one cache per provider
 * (`portico-git/`) that versions before 2026-12-04 kept, which grew by every commit fetched. Only directories
 * of this user, not symbolic links, with the names Portico gives them: the root may be the shared `/tmp`.
 * Returns what it removed.
 */
export async function removeAbandonedGitCaches(
  config: Config,
): Promise<string[]> {
  const root = cacheRoot(config);
  const abandoned = [join(root, 'portico-git')];
  for (const use of CLIENT_USES) {
    const dir = join(root, `portico-git-${use}`);
    if (!(await isOwnDirectory(dir))) continue;
    for (const name of await readdir(dir)) {
      const cache = join(dir, name);
      const current = CACHE_NAME.exec(name)?.groups;
      const gone = current
        ? current.host === hostname() &&
          !ownCaches.has(cache) &&
          (Number(current.pid) === process.pid ||
            !isRunning(Number(current.pid)))
        : EARLIER_CACHE_NAME.test(name);
      if (gone) abandoned.push(cache);
    }
  }
  const removed: string[] = [];
  for (const cache of abandoned) {
    if (!(await isOwnDirectory(cache))) continue;
    // One that cannot be removed holds back none of the others.
    await rm(cache, { recursive: true, force: true }).then(
      () => removed.push(cache),
      () => undefined,
    );
  }
  return removed;
}

async function isOwnDirectory(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => undefined);
  return (
    stats !== undefined &&
    stats.isDirectory() &&
    stats.uid === (process.getuid?.() ?? stats.uid)
  );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // Another user's process: it exists.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The remotes a provider reads, and the prefix of those it discovers (ending in `/`), as URLs. */
export function providerRemotes({ settings }: ProviderConfig): string[] {
  return [
    ...settings.repositories,
    ...(settings.discovery ? [settings.discovery.prefix] : []),
  ].map(remoteUrl);
}

/** Reads `catalog.providers.git`; a provider without repositories or schedule is a configuration error. */
export function readProviderConfigs(config: Config): ProviderConfig[] {
  const providers = config.getOptionalConfig('catalog.providers.git');
  if (!providers) return [];
  return providers.keys().map(id => {
    const key = `catalog.providers.git.${id}`;
    const provider = providers.getConfig(id);
    const rawPrefix = provider.getOptionalString('remotePrefix');
    const prefix = rawPrefix && absoluteRemote(rawPrefix);
    const names = provider.getOptionalStringArray('repositories') ?? [];
    if (names.length && !prefix) {
      throw new InputError(
        `${key}.repositories needs remotePrefix to make URLs of the names`,
      );
    }
    const globs = names.filter(isGlob);
    if (globs.length && !isLocalRemote(prefix!)) {
      throw new InputError(
        `${key}.repositories: ${globs.join(
          ', ',
        )} can only be listed when remotePrefix is a directory of ` +
          `this machine (file:// or a path); git servers cannot list their repositories, so name them, ` +
          `or use Backstage's GitHub or GitLab discovery`,
      );
    }
    const repositories = [
      ...(provider.getOptionalStringArray('remotes') ?? []).map(absoluteRemote),
      ...names.filter(name => !isGlob(name)).map(name => `${prefix}${name}`),
    ];
    const withCredentials = repositories.find(url =>
      /^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url),
    );
    if (withCredentials) {
      throw new InputError(
        `${key}: remote ${withCredentials.replace(
          /\/\/[^/@]*@/,
          '//***@',
        )} holds a password; use the token setting instead`,
      );
    }
    if (repositories.length === 0 && globs.length === 0) {
      throw new InputError(
        `${key} lists no repositories: set remotes, or remotePrefix and repositories`,
      );
    }
    const timeoutSeconds = provider.getOptionalNumber('timeoutSeconds') ?? 120;
    if (!(timeoutSeconds >= 1)) {
      throw new InputError(
        `${key}.timeoutSeconds must be at least 1, got ${timeoutSeconds}`,
      );
    }
    const concurrency = provider.getOptionalNumber('concurrency') ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InputError(
        `${key}.concurrency must be a whole number of at least 1, got ${concurrency}`,
      );
    }
    return {
      settings: {
        id,
        repositories: [...new Set(repositories)],
        discovery: globs.length
          ? new RepositoryDiscovery(withSlash(prefix!), globs)
          : undefined,
        branch: provider.getOptionalString('branch'),
        files: provider.getOptionalStringArray('files') ?? DEFAULT_FILES,
        concurrency,
      },
      token: provider.getOptionalString('token'),
      timeoutSeconds,
      schedule: provider.getConfig('schedule'),
    };
  });
}

/** Local paths become absolute: git runs in other directories than the backend's. */
function absoluteRemote(remote: string): string {
  if (!isLocalRemote(remote) || remote.startsWith('file://')) return remote;
  const absolute = resolve(remote);
  return remote.endsWith('/') ? `${absolute}/` : absolute;
}

function withSlash(prefix: string) {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}
