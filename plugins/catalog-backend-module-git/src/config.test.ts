import { createMockDirectory } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { removeAbandonedGitCaches } from './config';
import { filesUnder } from './__testUtils__/files';

describe('removeAbandonedGitCaches', () => {
  const workingDirectory = createMockDirectory();

  it("removes the caches of processes that are gone and of earlier versions, and keeps the running ones'", async () => {
    const gonePid = spawnSync('true').pid;
    const cache = (use: string, name: string) => ({
      [`portico-git-${use}/${name}/objects/pack/p.pack`]: 'pack',
    });
    workingDirectory.setContent({
      ...cache('provider', `demo-${process.pid}-${randomUUID()}`),
      ...cache('reader', `demo-${process.pid}-${randomUUID()}`),
      ...cache('provider', `demo-${gonePid}-${randomUUID()}`),
      ...cache('reader', `demo-${randomUUID()}`),
      'portico-git/demo/objects/pack/p.pack': 'pack',
      'unrelated/file': 'kept',
    });
    const before = filesUnder(workingDirectory.path);

    const removed = await removeAbandonedGitCaches(
      new ConfigReader({
        backend: { workingDirectory: workingDirectory.path },
      }),
    );

    expect(removed).toHaveLength(3);
    expect(filesUnder(workingDirectory.path)).toEqual(
      before.filter(
        file => file === 'unrelated/file' || file.includes(`-${process.pid}-`),
      ),
    );
  });
});
