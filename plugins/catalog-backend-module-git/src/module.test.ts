import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import {
  createPorticoTestDatabases,
  eventually,
} from '@internal/portico-backend-test-utils';
import {
  coreServices,
  createBackendModule,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import { Knex } from 'knex';
import request from 'supertest';
import { GitDaemon } from './__testUtils__/gitServer';
import { catalogModuleGit } from './module';

jest.setTimeout(180_000);

const databases = createPorticoTestDatabases();

const api = `apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: cart-api
spec:
  type: openapi
  lifecycle: production
  owner: group:default/platform-team
  definition:
    $text: ./openapi.yaml
`;

const component = (name: string, description = `${name} service`) =>
  `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n  description: ${description}\nspec:\n  type: service\n  owner: group:default/platform-team\n  lifecycle: production\n`;

describe('Git ingestion from a real git daemon', () => {
  let daemon: GitDaemon;

  beforeEach(async () => {
    daemon = await GitDaemon.start();
  });

  afterEach(async () => {
    await daemon.stop();
  });

  it.each(databases.eachSupportedId())(
    'ingests, follows changes, and never loses entities to faults (%p)',
    async databaseId => {
      const knex: Knex = await databases.init(databaseId);
      const firstCommit = daemon.createRepository('shop', {
        'catalog-info.yaml': component('cart'),
        '.backstage/more.yaml': `${component('wishlist')}---\n${component(
          'reviews',
        )}`,
        'services/ignored.yaml': component('not-a-descriptor-path'),
        '.backstage/api.yaml': api,
        '.backstage/openapi.yaml':
          'openapi: 3.0.3\ninfo: { title: Cart, version: 1.0.0 }\n',
        '.backstage/shared.yaml': component('shared'),
      });
      daemon.createRepository('tools', {
        'catalog-info.yaml': component('deployer'),
        '.backstage/shared.yaml': component('shared'),
      });

      // The test scheduler runs each task once at start; later syncs are triggered by the test, as the
      // schedule would, so that every step is deterministic.
      let scheduler: SchedulerService | undefined;
      const schedulerProbe = createBackendModule({
        pluginId: 'catalog',
        moduleId: 'scheduler-probe',
        register(reg) {
          reg.registerInit({
            deps: { catalogScheduler: coreServices.scheduler },
            async init({ catalogScheduler }) {
              scheduler = catalogScheduler;
            },
          });
        },
      });
      const sync = () => scheduler!.triggerTask('portico-git:demo:sync');

      const { server } = await startTestBackend({
        features: [
          catalogPlugin,
          catalogModuleGit,
          schedulerProbe,
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: {
              catalog: {
                processingInterval: { seconds: 1 },
                providers: {
                  git: {
                    demo: {
                      remotes: [daemon.url('shop'), daemon.url('tools')],
                      timeoutSeconds: 5,
                      schedule: {
                        frequency: { seconds: 1 },
                        timeout: { seconds: 30 },
                      },
                    },
                  },
                },
              },
            },
          }),
        ],
      });
      // `name` for a component, `kind:name` for other kinds.
      const entity = (ref: string) =>
        request(server)
          .get(
            `/api/catalog/entities/by-name/${
              ref.includes(':')
                ? ref.replace(':', '/default/')
                : `component/default/${ref}`
            }`,
          )
          .set('Authorization', 'Bearer mock-user-token');
      const present = (
        name: string,
        check: (body: any) => boolean = () => true,
      ) =>
        eventually(async () => {
          const res = await entity(name);
          return res.status === 200 && check(res.body) ? res.body : undefined;
        }, `${name} in the catalog`);
      const absent = (name: string) =>
        eventually(
          async () => ((await entity(name)).status === 404 ? true : undefined),
          `${name} to be removed`,
        );
      const repositoryRow = (name: string) =>
        knex('portico_git_repositories')
          .where({ url: daemon.url(name) })
          .first();

      // Initial ingest: both default globs, every document, and where each entity came from.
      const cart = await present('cart');
      await present('wishlist');
      await present('reviews');
      await present('deployer');
      expect((await entity('not-a-descriptor-path')).status).toBe(404);
      expect(cart.metadata.annotations).toMatchObject({
        'backstage.io/managed-by-location': `url:${daemon.url(
          'shop',
        )}#catalog-info.yaml`,
        'portico.dev/git-commit': firstCommit,
      });

      const definition = async () =>
        (await present('api:cart-api')).spec.definition as string;
      expect(await definition()).toContain('version: 1.0.0');

      // A change, a removed file, a rename, a changed placeholder target, and a ref that another
      // repository still defines.
      daemon.commit('shop', {
        'catalog-info.yaml': component('cart', 'the basket'),
        '.backstage/more.yaml': null,
        '.backstage/renamed.yaml': component('wishlist'),
        '.backstage/openapi.yaml':
          'openapi: 3.0.3\ninfo: { title: Cart, version: 2.0.0 }\n',
        '.backstage/shared.yaml': null,
      });
      await sync();
      await present('cart', body => body.metadata.description === 'the basket');
      await absent('reviews');
      await present('wishlist', body =>
        body.metadata.annotations['backstage.io/managed-by-location'].endsWith(
          '#.backstage/renamed.yaml',
        ),
      );
      await present('api:cart-api', body =>
        body.spec.definition.includes('version: 2.0.0'),
      );
      expect((await entity('shared')).status).toBe(200);

      // Broken YAML: the error is recorded, the file's last good entity stays, the rest is ingested.
      daemon.commit('tools', {
        'catalog-info.yaml':
          'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [oops\n',
        '.backstage/new.yaml': component('linter'),
      });
      await sync();
      await present('linter');
      const brokenFile = await eventually(
        () =>
          knex('portico_git_files')
            .where({ url: daemon.url('tools'), path: 'catalog-info.yaml' })
            .first()
            .then(row => (JSON.parse(row.errors).length ? row : undefined)),
        'the error of the broken file',
      );
      expect(JSON.parse(brokenFile.errors)[0]).toMatchObject({
        file: 'catalog-info.yaml',
        line: 5,
      });
      expect((await entity('deployer')).status).toBe(200);

      // The status API shows the same to a person: per repository, its commit, entity count and errors.
      const status = await request(server)
        .get('/api/catalog/portico-git/status')
        .set('Authorization', 'Bearer mock-user-token');
      const tools = status.body.providers[0].repositories.find(
        (r: { url: string }) => r.url === daemon.url('tools'),
      );
      expect(tools).toMatchObject({
        entityCount: 3,
        fileErrors: [
          expect.objectContaining({ file: 'catalog-info.yaml', line: 5 }),
        ],
      });
      expect(tools.syncedCommit).toMatch(/^[0-9a-f]{40}$/);
      const anonymous = await request(server)
        .get('/api/catalog/portico-git/status')
        .set('Authorization', mockCredentials.none.header());
      expect(anonymous.status).toBe(401);

      // A placeholder that climbs out of the repository and a symlinked descriptor are both refused.
      daemon.commit('tools', {
        '.backstage/escape.yaml': component('escape').replace(
          'spec:\n',
          'spec:\n  definition:\n    $text: ../../../etc/passwd\n',
        ),
        '.backstage/link.yaml': { symlink: '/etc/hostname' },
      });
      await sync();
      await eventually(
        () =>
          knex('portico_git_files')
            .where({ url: daemon.url('tools') })
            .whereIn('path', ['.backstage/escape.yaml', '.backstage/link.yaml'])
            .then(rows =>
              rows.length === 2 && rows.every(r => JSON.parse(r.errors).length)
                ? rows
                : undefined,
            ),
        'the refused files',
      );
      expect((await entity('escape')).status).toBe(404);

      // The server goes down: every sync fails, and nothing is removed.
      await daemon.pause();
      await sync();
      const failure = await eventually(
        async () => (await repositoryRow('shop'))?.last_error ?? undefined,
        'a failed sync to be recorded',
      );
      expect(failure).toMatch(/git ls-remote failed/);
      await sync();
      await new Promise(r => setTimeout(r, 3_000));
      for (const name of ['cart', 'wishlist', 'deployer', 'linter']) {
        expect((await entity(name)).status).toBe(200);
      }

      // The server is back with a fixed file: ingestion resumes.
      await daemon.resume();
      daemon.commit('tools', {
        'catalog-info.yaml': component('deployer', 'fixed again'),
      });
      await sync();
      await present(
        'deployer',
        body => body.metadata.description === 'fixed again',
      );
      await eventually(
        async () =>
          (await repositoryRow('shop'))?.last_error === null ? true : undefined,
        'the failure to clear',
      );
    },
  );
});
