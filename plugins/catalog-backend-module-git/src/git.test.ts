import { createMockDirectory } from '@backstage/backend-test-utils';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitDaemon, startSmartHttp } from './__testUtils__/gitServer';
import { GitCli, RepositoryNotFoundError } from './git';

// Every temporary directory of these tests, the code's own among them, is removed after them.
createMockDirectory({ mockOsTmpDir: true });

const token = 's3cret-token-value';

describe('GitCli over smart HTTP with basic auth', () => {
  let daemon: GitDaemon;
  let http: Awaited<ReturnType<typeof startSmartHttp>>;
  let commit: string;

  beforeAll(async () => {
    daemon = await GitDaemon.start();
    commit = daemon.createRepository('private', {
      'catalog-info.yaml':
        'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: secret\n',
      'docs/readme.md': '# hi\n',
    });
    http = await startSmartHttp(daemon, token);
  });

  afterAll(async () => {
    await http.stop();
    await daemon.stop();
  });

  const cli = (
    withToken?: string,
    options: { maxPackBytes?: number; cacheDir?: string } = {},
  ) =>
    new GitCli({
      timeoutMs: 20_000,
      token: withToken,
      ...options,
      cacheDir:
        options.cacheDir ?? mkdtempSync(join(tmpdir(), 'portico-git-cache-')),
    });

  // A pack over the limit is fetched by git into a mirror instead of being read in memory.
  it.each([
    ['smart HTTP', 'in memory', Infinity],
    ['git://', 'in memory', Infinity],
    ['smart HTTP', 'by git', 100],
    ['git://', 'by git', 100],
  ])(
    'reads the head commit and its files over %s, %s',
    async (transport, way, maxPackBytes) => {
      const cacheDir = mkdtempSync(join(tmpdir(), 'portico-git-cache-'));
      const git = cli(token, { maxPackBytes, cacheDir });
      const url =
        transport === 'git://' ? daemon.url('private') : http.url('private');
      expect(await git.headCommit(url)).toEqual({ commit, branch: 'main' });
      const fetched = await git.fetchSnapshot(url);
      expect(fetched.commit).toBe(commit);
      expect(existsSync(join(cacheDir, 'mirrors'))).toBe(way === 'by git');
      const { files } = fetched;
      const tree = await files.listTree(commit, () => true);
      expect(tree.map(entry => entry.path).sort()).toEqual([
        'catalog-info.yaml',
        'docs/readme.md',
      ]);
      // Only the directories asked for are listed; a file elsewhere is found by path.
      expect(await files.listTree(commit, () => false)).toEqual([
        expect.objectContaining({ path: 'catalog-info.yaml' }),
      ]);
      expect(await files.entry(commit, 'docs/readme.md')).toEqual(
        expect.objectContaining({ mode: '100644' }),
      );
      expect(await files.entry(commit, 'docs/none.md')).toBe(undefined);
      expect(await files.entry(commit, 'docs')).toBe(undefined);
      const descriptor = tree.find(
        entry => entry.path === 'catalog-info.yaml',
      )!;
      expect((await files.read(descriptor.blob, 1024)).toString()).toContain(
        'name: secret',
      );
      // Over the limit, only the size is read.
      expect(await files.read(descriptor.blob, 10)).toEqual({ size: 75 });
    },
  );

  it.each(['smart HTTP', 'git://'])(
    'leaves out the blobs it does not read where the server filters, over %s',
    async transport => {
      const url = (name: string) =>
        transport === 'git://' ? daemon.url(name) : http.url(name);
      const suffix = transport === 'git://' ? 'git' : 'http';
      const descriptor =
        'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: big\n';
      const files = {
        'catalog-info.yaml': descriptor,
        // Random, so that compression does not shrink it.
        'assets/data.bin': randomBytes(1_000_000).toString('base64'),
      };
      daemon.createRepository(`filtered-${suffix}`, files);
      execFileSync('git', ['config', 'uploadpack.allowFilter', 'true'], {
        cwd: join(daemon.repositoriesDir, `filtered-${suffix}.git`),
      });
      daemon.createRepository(`unfiltered-${suffix}`, files);
      const git = cli(token);

      const unfiltered = await git.fetchSnapshot(url(`unfiltered-${suffix}`));
      expect(unfiltered.files.receivedBytes).toBeGreaterThan(1_000_000);

      const { commit: head, files: filtered } = await git.fetchSnapshot(
        url(`filtered-${suffix}`),
      );
      expect(filtered.receivedBytes).toBeLessThan(10_000);
      // The trees are whole; a blob is fetched when it is read.
      const tree = await filtered.listTree(head, () => true);
      expect(tree.map(entry => entry.path).sort()).toEqual([
        'assets/data.bin',
        'catalog-info.yaml',
      ]);
      const blob = tree.find(e => e.path === 'catalog-info.yaml')!.blob;
      expect((await filtered.read(blob, 1024)).toString()).toBe(descriptor);
      expect(filtered.receivedBytes).toBeLessThan(10_000);
    },
  );

  it.each(['smart HTTP', 'git://'])(
    'brings the blobs about to be read in one request where the server filters, over %s',
    async transport => {
      const name = `filtered-several-${
        transport === 'git://' ? 'git' : 'http'
      }`;
      const descriptor = (n: number) =>
        `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c${n}\n`;
      daemon.createRepository(name, {
        '.backstage/a.yaml': descriptor(1),
        '.backstage/b.yaml': descriptor(2),
        '.backstage/c.yaml': descriptor(3),
      });
      execFileSync('git', ['config', 'uploadpack.allowFilter', 'true'], {
        cwd: join(daemon.repositoriesDir, `${name}.git`),
      });
      const url = transport === 'git://' ? daemon.url(name) : http.url(name);
      const fetches = () =>
        http.requests.filter(r => r === `POST /${name}.git/git-upload-pack`)
          .length;
      const { commit: head, files } = await cli(token).fetchSnapshot(url);
      const blobs = (await files.listTree(head, () => true)).map(e => e.blob);
      const [treesOnly, before] = [files.receivedBytes!, fetches()];
      await files.prefetch(blobs);
      const received = files.receivedBytes!;
      expect(received).toBeGreaterThan(treesOnly);
      expect(fetches() - before).toBe(transport === 'git://' ? 0 : 1);
      // Read from what came: nothing more is asked.
      for (const [i, blob] of blobs.entries()) {
        expect((await files.read(blob, 1024)).toString()).toBe(
          descriptor(i + 1),
        );
      }
      expect(files.receivedBytes).toBe(received);
      expect(fetches() - before).toBe(transport === 'git://' ? 0 : 1);
    },
  );

  it.each(['smart HTTP', 'git://'])(
    'tells the size of a blob too large to fetch into memory where the server filters, over %s',
    async transport => {
      const name = `filtered-large-${transport === 'git://' ? 'git' : 'http'}`;
      daemon.createRepository(name, {
        // Inflates past the 400 KB that packs of at most 100 KB may inflate to.
        'compressible.yaml': 'description: the same line again\n'.repeat(
          30_000,
        ),
        // Random, so that its pack is over 100 KB.
        'random.yaml': randomBytes(150_000).toString('base64'),
      });
      execFileSync('git', ['config', 'uploadpack.allowFilter', 'true'], {
        cwd: join(daemon.repositoriesDir, `${name}.git`),
      });
      const git = cli(token, { maxPackBytes: 100_000 });
      const { commit: head, files } = await git.fetchSnapshot(
        transport === 'git://' ? daemon.url(name) : http.url(name),
      );
      const blob = async (path: string) =>
        (await files.entry(head, path))!.blob;
      expect(await files.read(await blob('compressible.yaml'), 1024)).toEqual({
        size: 990_000,
      });
      expect(await files.read(await blob('random.yaml'), 1024)).toEqual({
        size: 200_000,
      });
      // Under a limit that it fits, the blob is a failed fetch, as before.
      await expect(
        files.read(await blob('random.yaml'), 1024 * 1024),
      ).rejects.toThrow(/the pack is larger than 100000 bytes/);
    },
  );

  it('tells a repository the server does not have from a server that does not answer', async () => {
    const git = cli(token);
    await expect(git.headCommit(http.url('no-such-repo'))).rejects.toThrow(
      RepositoryNotFoundError,
    );
    await expect(git.headCommit(daemon.url('no-such-repo'))).rejects.toThrow(
      RepositoryNotFoundError,
    );
    // The fetch, too, says so, in memory and by git.
    for (const url of [http.url('no-such-repo'), daemon.url('no-such-repo')]) {
      await expect(git.fetchSnapshot(url)).rejects.toThrow(
        RepositoryNotFoundError,
      );
    }
    await expect(git.fetchHead(daemon.url('no-such-repo'))).rejects.toThrow(
      RepositoryNotFoundError,
    );
    const refused = await git
      .headCommit('git://127.0.0.1:1/closed.git')
      .catch(error => error);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(RepositoryNotFoundError);
  });

  it('fetches past a lock file that a killed git left in the mirror, but not past one in use', async () => {
    const git = cli(token);
    const { mirror } = await git.fetchHead(daemon.url('private'));
    const lock = join(mirror, 'shallow.lock');
    writeFileSync(lock, '');
    // Younger than the timeout: another process's fetch may hold it.
    await expect(git.fetchHead(daemon.url('private'))).rejects.toThrow(
      `git fetch failed: fatal: Unable to create '${lock}': File exists.`,
    );
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, anHourAgo, anHourAgo);
    expect(await git.fetchHead(daemon.url('private'))).toEqual({
      mirror,
      commit,
    });
    expect(existsSync(lock)).toBe(false);
  });

  it('keeps fetched mirrors while any holder reads them, and removes them when the last lets go', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'portico-git-cache-'));
    const git = cli(token, { maxPackBytes: 100, cacheDir });
    const url = daemon.url('private');
    const releaseFirst = await git.holdCache();
    const releaseSecond = await git.holdCache();
    const { files } = await git.fetchSnapshot(url);
    await releaseFirst();
    expect(await files.entry(commit, 'catalog-info.yaml')).toBeDefined();
    await releaseSecond();
    expect(existsSync(cacheDir)).toBe(false);

    // The repositories of a sync are read at once, and each asks for the object reader.
    const releaseAgain = await git.holdCache();
    const readers = await Promise.all([git.objects(), git.objects()]);
    expect(readers[1]).toBe(readers[0]);
    const fetchedAgain = await git.fetchSnapshot(url);
    expect(
      await fetchedAgain.files.entry(commit, 'catalog-info.yaml'),
    ).toBeDefined();
    await releaseAgain();
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('gives up on a git:// server that keeps sending too slowly to finish within the timeout', async () => {
    // A pkt-line that announces 65,520 bytes, then a byte every 100 ms: the connection is never idle.
    const server = createServer(socket => {
      socket.on('error', () => {});
      socket.write('fff0');
      const drip = setInterval(() => socket.write('x'), 100);
      socket.on('close', () => clearInterval(drip));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const git = new GitCli({
        timeoutMs: 1000,
        cacheDir: mkdtempSync(join(tmpdir(), 'portico-git-cache-')),
      });
      const started = Date.now();
      await expect(
        git.headCommit(`git://127.0.0.1:${port}/slow.git`),
      ).rejects.toThrow(/timed out after 1s/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      server.close();
    }
  });

  it('fails without leaking the token when it is wrong', async () => {
    const wrong = 'wrong-token-value';
    const failure = await cli(wrong)
      .headCommit(http.url('private'))
      .then(
        () => undefined,
        (error: Error) => error.message,
      );
    expect(failure).toMatch(/^ls-refs failed: HTTP 401/);
    expect(failure).not.toContain(wrong);
    expect(failure).not.toContain(
      Buffer.from(`x-access-token:${wrong}`).toString('base64'),
    );
  });

  it('fails when no token is configured for a protected remote', async () => {
    await expect(cli().headCommit(http.url('private'))).rejects.toThrow(
      /ls-refs failed: HTTP 401/,
    );
  });
});
