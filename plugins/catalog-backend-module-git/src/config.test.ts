import {
  createMockDirectory,
  mockServices,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hostname } from 'node:os';
import {
  createGitClient,
  readProviderConfigs,
  removeAbandonedGitCaches,
} from './config';
import { filesUnder } from './__testUtils__/files';

describe('removeAbandonedGitCaches', () => {
  const workingDirectory = createMockDirectory();
  const config = new ConfigReader({
    backend: { workingDirectory: workingDirectory.path },
    catalog: {
      providers: {
        git: {
          demo: {
            remotes: ['git://git.example.com/a.git'],
            schedule: { frequency: { minutes: 1 }, timeout: { minutes: 1 } },
          },
        },
      },
    },
  });
  const cache = (use: string, name: string) => ({
    [`portico-git-${use}/${name}/objects/pack/p.pack`]: 'pack',
  });
  const named = (host: string, pid: number) =>
    `demo.${host}.${pid}.${randomUUID()}`;

  it("removes the caches of this host's processes that are gone and of earlier versions, and no others", async () => {
    const gonePid = spawnSync('true').pid!;
    const elsewhere = workingDirectory.resolve('elsewhere');
    workingDirectory.setContent({
      // Running: another process of this host, this one's own, another host's (on a shared volume).
      ...cache('reader', named(hostname(), process.ppid)),
      ...cache('provider', named('other-host.example.com', gonePid)),
      // Gone: a process that ended, a backend before this one with this pid (a restarted container).
      ...cache('provider', named(hostname(), gonePid)),
      ...cache('reader', named(hostname(), process.pid)),
      // Earlier versions'.
      ...cache('reader', `demo-${randomUUID()}`),
      'portico-git/demo/objects/pack/p.pack': 'pack',
      // Not Portico's.
      'portico-git-reader/notes/file': 'kept',
      'elsewhere/file': 'kept',
    });
    symlinkSync(
      elsewhere,
      workingDirectory.resolve('portico-git-reader', `demo-${randomUUID()}`),
    );
    const own = createGitClient(
      config,
      readProviderConfigs(config)[0],
      'provider',
      mockServices.logger.mock(),
    );
    const ownCache = (own as unknown as { options: { cacheDir: string } })
      .options.cacheDir;
    mkdirSync(ownCache, { recursive: true });
    writeFileSync(join(ownCache, 'FETCH_HEAD'), 'head');
    const before = filesUnder(workingDirectory.path);

    const removed = await removeAbandonedGitCaches(config);

    expect(removed).toHaveLength(4);
    expect(filesUnder(workingDirectory.path)).toEqual(
      before.filter(
        file =>
          !removed.some(dir =>
            workingDirectory.resolve(file).startsWith(`${dir}/`),
          ),
      ),
    );
    expect(filesUnder(workingDirectory.path)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`.${process.ppid}.`),
        expect.stringContaining('other-host.example.com'),
        relative(workingDirectory.path, join(ownCache, 'FETCH_HEAD')),
        'portico-git-reader/notes/file',
        'elsewhere/file',
      ]),
    );
  });
});
