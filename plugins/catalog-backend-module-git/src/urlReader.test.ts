import { UrlReaders } from '@backstage/backend-defaults/urlReader';
import {
  createMockDirectory,
  mockServices,
} from '@backstage/backend-test-utils';
import { NotModifiedError } from '@backstage/errors';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@internal/portico-backend-test-utils';
import { filesUnder } from './__testUtils__/files';
import { GitDaemon } from './__testUtils__/gitServer';
import { GitUrlReader } from './urlReader';

// Every temporary directory of these tests, the code's own among them, is removed after them.
createMockDirectory({ mockOsTmpDir: true });

describe('GitUrlReader', () => {
  let daemon: GitDaemon;
  let commit: string;

  beforeAll(async () => {
    daemon = await GitDaemon.start();
    commit = daemon.createRepository('docs-site', {
      'catalog-info.yaml': 'kind: Component\n',
      'docs/mkdocs.yml': 'site_name: Checkout\n',
      'docs/docs/index.md': '# Checkout\n',
      'src/main.ts': 'export {};\n',
    });
  });

  afterAll(() => daemon.stop());

  // Backstage's own reader with ours among its factories, as the backend builds it.
  const reader = (
    workingDirectory = mkdtempSync(join(tmpdir(), 'portico-reader-')),
  ) =>
    UrlReaders.default({
      config: mockServices.rootConfig({
        data: {
          backend: { workingDirectory },
          catalog: {
            providers: {
              git: {
                demo: {
                  remotes: [daemon.url('docs-site')],
                  schedule: {
                    frequency: { minutes: 1 },
                    timeout: { minutes: 1 },
                  },
                },
              },
            },
          },
        },
      }),
      logger: mockServices.logger.mock(),
      factories: [GitUrlReader.factory],
    });

  it('reads a file and a directory tree of a remote, as TechDocs reads `dir:` sources', async () => {
    const urls = reader();
    const file = await urls.readUrl(
      `${daemon.url('docs-site')}/docs/mkdocs.yml`,
    );
    expect((await file.buffer()).toString()).toBe('site_name: Checkout\n');
    expect(file.etag).toBe(commit);

    const tree = await urls.readTree(`${daemon.url('docs-site')}/docs/`);
    const files = await tree.files();
    expect(files.map(f => f.path).sort()).toEqual([
      'docs/index.md',
      'mkdocs.yml',
    ]);
    await expect(
      urls.readTree(`${daemon.url('docs-site')}/docs/`, { etag: commit }),
    ).rejects.toThrow(NotModifiedError);
  });

  it('leaves no Git objects in the working directory once every read is done', async () => {
    const workingDirectory = mkdtempSync(join(tmpdir(), 'portico-reader-'));
    const filesLeft = () => filesUnder(workingDirectory);
    const urls = reader(workingDirectory);
    await urls.readUrl(`${daemon.url('docs-site')}/catalog-info.yaml`);
    await urls.search(`${daemon.url('docs-site')}/docs/**/*.md`);
    expect(filesLeft()).toEqual([]);
    const tree = await urls.readTree(`${daemon.url('docs-site')}/docs/`);
    // Its archive is read by the caller, from the fetched objects.
    expect(filesLeft()).toContainEqual(expect.stringMatching(/\/FETCH_HEAD$/));
    expect(await tree.files()).toHaveLength(2);
    await eventually(
      async () => (filesLeft().length ? undefined : true),
      'the fetched objects to be removed',
    );
  });

  it('says a path is missing, and leaves other URLs to the other readers', async () => {
    const urls = reader();
    await expect(
      urls.readUrl(`${daemon.url('docs-site')}/nope.yaml`),
    ).rejects.toThrow(/does not exist/);
    const missingTree = await urls.readTree(`${daemon.url('docs-site')}/nope/`);
    await expect(missingTree.files()).rejects.toThrow(
      "git archive failed: fatal: pathspec 'nope' did not match any files",
    );
    await expect(
      urls.readUrl('git://127.0.0.1:1/unknown.git/catalog-info.yaml'),
    ).rejects.toThrow(/not allowed/);
  });

  it('serves reads of one repository that arrive together, as TechDocs builds of its entities do', async () => {
    const urls = reader();
    const trees = await Promise.all(
      Array.from({ length: 6 }, () =>
        urls.readTree(`${daemon.url('docs-site')}/docs/`),
      ),
    );
    // Read one by one, so that the later archives are read well after git wrote them.
    for (const tree of trees) {
      expect((await tree.files()).map(f => f.path).sort()).toEqual([
        'docs/index.md',
        'mkdocs.yml',
      ]);
    }
  });
});
