import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabaseId,
} from '@backstage/backend-test-utils';
import {
  createPorticoTestDatabases,
  eventually,
} from '@internal/portico-backend-test-utils';
import {
  SchedulerService,
  ServiceFactory,
} from '@backstage/backend-plugin-api';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import { Knex } from 'knex';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { component } from './__testUtils__/descriptors';
import { filesUnder } from './__testUtils__/files';
import { GitDaemon } from './__testUtils__/gitServer';
import { catalogModuleGit } from './module';

jest.setTimeout(180_000);

// Every temporary directory of these tests, the code's own among them, is removed after them.
createMockDirectory({ mockOsTmpDir: true });

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
    $text: ../specs/openapi.yaml
`;

// A "billion laughs": each level refers to the one before ten times.
const aliasBomb = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...Array.from(
    { length: 8 },
    (_, i) =>
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(
        9,
      )
        .fill(`*${String.fromCharCode(97 + i)}`)
        .join(',')}]`,
  ),
].join('\n');

/**
 * The catalog with the Git module on `knex`, with one provider `demo`. The test scheduler runs each task
 * once at start; later syncs are triggered by the test, as the schedule would, so every step is deterministic.
 */
async function startCatalog(knex: Knex, provider: Record<string, unknown>) {
  const scheduler = mockServices.scheduler() as SchedulerService & {
    factory(): ServiceFactory;
  };
  // The mock skips a trigger that comes while the task runs (the start's sync may still be finishing);
  // the real scheduler would run it again at its next tick, so here the trigger waits and then runs it.
  const runTask = scheduler.triggerTask.bind(scheduler);
  const lastRun = new Map<string, Promise<void>>();
  scheduler.triggerTask = async id => {
    const run = (lastRun.get(id) ?? Promise.resolve()).then(() => runTask(id));
    lastRun.set(id, run);
    return run;
  };
  const workingDirectory = mkdtempSync(join(tmpdir(), 'portico-backend-'));
  const backend = await startTestBackend({
    features: [
      catalogPlugin,
      catalogModuleGit,
      scheduler.factory(),
      mockServices.database.factory({ knex }),
      mockServices.rootConfig.factory({
        data: {
          backend: { workingDirectory },
          catalog: {
            processingInterval: { seconds: 1 },
            providers: {
              git: {
                demo: {
                  ...provider,
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
  databases.stopAfterTest(backend);
  const { server } = backend;
  const sync = () => scheduler.triggerTask('portico-git:demo:sync');
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
  const present = (name: string, check: (body: any) => boolean = () => true) =>
    eventually(async () => {
      const res = await entity(name);
      return res.status === 200 && check(res.body) ? res.body : undefined;
    }, `${name} in the catalog`);
  const absent = (name: string) =>
    eventually(
      async () => ((await entity(name)).status === 404 ? true : undefined),
      `${name} to be removed`,
    );
  const statusOf = async (url: string) => {
    const res = await request(server)
      .get('/api/catalog/portico-git/status')
      .set('Authorization', 'Bearer mock-user-token');
    return res.body.providers[0].repositories.find(
      (r: { url: string }) => r.url === url,
    );
  };
  // What the provider's fetches left on disk.
  const cachedFiles = () => filesUnder(workingDirectory);
  return { server, sync, entity, present, absent, statusOf, cachedFiles };
}

// GitHub and GitLab leave out the blobs a client asks to filter: then descriptors are fetched by id.
describe.each([
  ['a real git daemon', false],
  ['a real git daemon that filters blobs', true],
])('Git ingestion from %s', (_server, filter) => {
  let daemon: GitDaemon;

  beforeEach(async () => {
    daemon = await GitDaemon.start({ filter });
  });

  afterEach(async () => {
    await daemon.stop();
  });

  /** A repository whose `catalog-info.yaml` holds one Component. */
  const createRepositoryOf = (repository: string, componentName: string) =>
    daemon.createRepository(repository, {
      'catalog-info.yaml': component(componentName),
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
        'specs/openapi.yaml':
          'openapi: 3.0.3\ninfo: { title: Cart, version: 1.0.0 }\n',
        '.backstage/shared.yaml': component('shared'),
        '.backstage/gifts.yml': component('gift-cards'),
      });
      createRepositoryOf('tools', 'deployer');
      // A name longer than the catalog's tables hold: PostgreSQL would refuse the whole first batch.
      daemon.createRepository('legacy', {
        'catalog-info.yaml': `${component('legacy-app')}---\n${component(
          'x'.repeat(300),
        )}`,
      });

      const { server, sync, entity, present, absent, statusOf } =
        await startCatalog(knex, {
          remotes: [
            daemon.url('shop'),
            daemon.url('tools'),
            daemon.url('legacy'),
          ],
        });
      const repositoryRow = (name: string) =>
        knex('portico_git_repositories')
          .where({ url: daemon.url(name) })
          .first();

      // Initial ingest: the default globs, every document, and where each entity came from.
      const cart = await present('cart');
      await present('gift-cards');
      await present('wishlist');
      await present('reviews');
      await present('deployer');
      expect((await entity('not-a-descriptor-path')).status).toBe(404);
      await present('legacy-app');
      expect((await statusOf(daemon.url('legacy'))).fileErrors).toEqual([
        expect.objectContaining({
          file: 'catalog-info.yaml',
          line: 14,
          message: expect.stringContaining(
            'has an entity ref of 318 characters',
          ),
        }),
      ]);
      expect(cart.metadata.annotations).toMatchObject({
        'backstage.io/managed-by-location': `url:${daemon.url(
          'shop',
        )}/catalog-info.yaml`,
        'portico.dev/git-commit': firstCommit,
      });
      // git:// has no page to view: no "View source" link that leads nowhere.
      expect(cart.metadata.annotations).not.toHaveProperty([
        'backstage.io/view-url',
      ]);

      // tools now defines `shared` too: shop, which defined it first, keeps it, and the status says so.
      await present('shared');
      daemon.commit('tools', {
        '.backstage/shared.yaml': component('shared', 'from tools'),
      });
      await sync();
      const conflicts = await eventually(async () => {
        const status = await statusOf(daemon.url('tools'));
        return status?.fileErrors.length ? status.fileErrors : undefined;
      }, 'the conflict to be reported');
      const sharedOwner = (await present('shared')).metadata.annotations[
        'backstage.io/managed-by-location'
      ];
      expect(sharedOwner).toBe(
        `url:${daemon.url('shop')}/.backstage/shared.yaml`,
      );
      expect(conflicts).toEqual([
        {
          file: '.backstage/shared.yaml',
          message: expect.stringContaining(
            `component:default/shared is already defined by ${daemon.url(
              'shop',
            )}`,
          ),
        },
      ]);

      const definition = async () =>
        (await present('api:cart-api')).spec.definition as string;
      expect(await definition()).toContain('version: 1.0.0');

      // A change, a removed file, a rename, a changed placeholder target, and a ref that another
      // repository still defines.
      daemon.commit('shop', {
        'catalog-info.yaml': component('cart', 'the basket'),
        '.backstage/more.yaml': null,
        '.backstage/renamed.yaml': component('wishlist'),
        'specs/openapi.yaml':
          'openapi: 3.0.3\ninfo: { title: Cart, version: 2.0.0 }\n',
        '.backstage/shared.yaml': null,
      });
      await sync();
      await present('cart', body => body.metadata.description === 'the basket');
      await absent('reviews');
      await present('wishlist', body =>
        body.metadata.annotations['backstage.io/managed-by-location'].endsWith(
          '/.backstage/renamed.yaml',
        ),
      );
      await present('api:cart-api', body =>
        body.spec.definition.includes('version: 2.0.0'),
      );
      // shop dropped `shared`: tools' definition takes over.
      await present('shared', body =>
        body.metadata.annotations[
          'backstage.io/managed-by-location'
        ].startsWith(`url:${daemon.url('tools')}/`),
      );
      expect((await statusOf(daemon.url('tools'))).fileErrors).toEqual([]);

      // Broken YAML where deployer was: the error is recorded, the file's last good entity stays, its
      // document that reads well and the rest are ingested.
      daemon.commit('tools', {
        'catalog-info.yaml': `${component(
          'packager',
        )}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [oops\n`,
        '.backstage/new.yaml': component('linter'),
        // Valid YAML that the catalog itself cannot process: its error shows in the status too.
        '.backstage/widget.yaml':
          'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: gadget\n',
      });
      await sync();
      await present('linter');
      await present('packager');
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
        line: 15,
      });
      expect((await entity('deployer')).status).toBe(200);

      // The status API shows the same to a person: per repository, its commit, entity count and errors.
      const tools = await statusOf(daemon.url('tools'));
      expect(tools).toMatchObject({
        entityCount: 5,
        fileErrors: [
          expect.objectContaining({ file: 'catalog-info.yaml', line: 15 }),
        ],
      });
      expect(tools.syncedCommit).toMatch(/^[0-9a-f]{40}$/);
      const processingError = await eventually(async () => {
        const status = await statusOf(daemon.url('tools'));
        return status.processingErrors.length
          ? status.processingErrors[0]
          : undefined;
      }, 'the catalog processing error of the custom kind');
      expect(processingError.entityRef).toBe('widget:default/gadget');
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
        '.backstage/huge.yaml': `${component('huge')}  notes: "${'x'.repeat(
          5 * 1024 * 1024,
        )}"\n`,
        '.backstage/bomb.yaml': aliasBomb,
        // Its target comes in a later commit.
        '.backstage/later.yaml': component('later').replace(
          'spec:\n',
          'spec:\n  definition:\n    $text: ../docs/later.md\n',
        ),
      });
      await sync();
      const refused = [
        '.backstage/escape.yaml',
        '.backstage/link.yaml',
        '.backstage/huge.yaml',
        '.backstage/bomb.yaml',
      ];
      await eventually(
        () =>
          knex('portico_git_files')
            .where({ url: daemon.url('tools') })
            .whereIn('path', refused)
            .then(rows =>
              rows.length === refused.length &&
              rows.every(r => JSON.parse(r.errors).length)
                ? rows
                : undefined,
            ),
        'the refused files',
      );
      const refusals = Object.fromEntries(
        (await statusOf(daemon.url('tools'))).fileErrors.map(
          (e: { file: string; message: string }) => [e.file, e.message],
        ),
      );
      expect(refusals).toMatchObject({
        '.backstage/huge.yaml': expect.stringMatching(
          /5\.0 MB, over the 1\.0 MB limit/,
        ),
        '.backstage/bomb.yaml': expect.stringMatching(/alias/),
        '.backstage/link.yaml': expect.stringMatching(/symbolic link/),
      });
      for (const name of ['escape', 'huge', 'later']) {
        expect((await entity(name)).status).toBe(404);
      }

      // The server goes down: every sync fails, and nothing is removed.
      await daemon.pause();
      await sync();
      const failure = await eventually(
        async () => (await repositoryRow('shop'))?.last_error ?? undefined,
        'a failed sync to be recorded',
      );
      expect(failure).toMatch(/ls-refs failed: .*ECONNREFUSED/);
      await sync();
      await new Promise(r => setTimeout(r, 3_000));
      for (const name of ['cart', 'wishlist', 'deployer', 'linter']) {
        expect((await entity(name)).status).toBe(200);
      }

      // The server is back with a fixed file: ingestion resumes.
      await daemon.resume();
      daemon.commit('tools', {
        'catalog-info.yaml': component('deployer', 'fixed again'),
        'docs/later.md': 'written later',
      });
      await sync();
      await present(
        'deployer',
        body => body.metadata.description === 'fixed again',
      );
      await absent('packager');
      await present('later', body => body.spec.definition === 'written later');
      await eventually(
        async () =>
          (await repositoryRow('shop'))?.last_error === null ? true : undefined,
        'the failure to clear',
      );
    },
  );

  const plannerStatisticsKeepUp = async (databaseId: TestDatabaseId) => {
    const knex: Knex = await databases.init(databaseId);
    const components = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => component(`${prefix}-${i}`)).join(
        '---\n',
      );
    daemon.createRepository('team-a', {
      'catalog-info.yaml': components('alpha', 1),
    });
    const { sync, present } = await startCatalog(knex, {
      remotePrefix: `file://${daemon.repositoriesDir}/`,
      repositories: ['team-*'],
    });
    const planned = async () => {
      const { rows } = await knex.raw(
        `select reltuples from pg_class where oid = 'refresh_state'::regclass`,
      );
      const [{ count }] = await knex('refresh_state').count({ count: '*' });
      return { estimated: Number(rows[0].reltuples), stored: Number(count) };
    };

    await present('alpha-0');
    // Left alone, the estimate would stay that of the empty table.
    expect(await planned()).toEqual({ estimated: 1, stored: 1 });

    daemon.createRepository('team-b', {
      'catalog-info.yaml': components('beta', 30),
    });
    await sync();
    await present('beta-29');
    expect(await planned()).toEqual({ estimated: 31, stored: 31 });
  };
  // SQLite plans every statement afresh: there is nothing to keep up to date.
  const onPostgres = databases
    .eachSupportedId()
    .filter(([id]) => id.startsWith('POSTGRES'));
  (onPostgres.length
    ? it.each(onPostgres)
    : it.skip.each([['POSTGRES_15' as const]]))(
    'gives a fresh catalog planner statistics as entities arrive, so that its inserts keep to the indexes (%p)',
    plannerStatisticsKeepUp,
  );

  it.each(databases.eachSupportedId())(
    'lists repositories by glob, and removes one the server confirms is gone (%p)',
    async databaseId => {
      const knex: Knex = await databases.init(databaseId);
      createRepositoryOf('team-a', 'alpha');
      createRepositoryOf('team-b', 'beta');
      createRepositoryOf('sandbox', 'not-listed');
      createRepositoryOf('served', 'served');
      const prefix = `file://${daemon.repositoriesDir}/`;
      const { sync, entity, present, absent, statusOf, cachedFiles } =
        await startCatalog(knex, {
          remotePrefix: prefix,
          repositories: ['team-*'],
          remotes: [daemon.url('served')],
        });
      await present('alpha');
      await present('beta');
      await present('served');
      expect((await entity('not-listed')).status).toBe(404);
      // git fetched the file:// repositories into mirrors, which are removed once the sync has read them.
      await eventually(
        async () => (cachedFiles().length ? undefined : true),
        'the fetched mirrors to be removed',
      );

      // Deleted on the server: the first sync that finds it gone keeps its entities and says so; the
      // next one, hearing the same, removes them.
      daemon.deleteRepository('team-b');
      daemon.deleteRepository('served');
      await sync();
      const missing = await eventually(async () => {
        const status = await statusOf(daemon.url('served'));
        return status?.lastError ? status : undefined;
      }, 'the missing repository to be reported');
      expect(missing.lastError).toMatch(
        /removed if the next sync finds it gone too/,
      );
      expect((await entity('beta')).status).toBe(200);
      expect((await entity('served')).status).toBe(200);

      await sync();
      await absent('beta');
      await absent('served');
      expect((await entity('alpha')).status).toBe(200);
      expect(await statusOf(`${prefix}team-b.git`)).toBeUndefined();
      // A configured remote stays listed, with the reason its entities are gone.
      expect((await statusOf(daemon.url('served'))).lastError).toMatch(
        /its entities were removed/,
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'commits each repository of a batch alone when the catalog refuses one of them (%p)',
    async databaseId => {
      const knex: Knex = await databases.init(databaseId);
      createRepositoryOf('team-first', 'first');
      const prefix = `file://${daemon.repositoriesDir}/`;
      const { sync, entity, present, statusOf } = await startCatalog(knex, {
        remotePrefix: prefix,
        repositories: ['team-*'],
      });
      await present('first');

      // The catalog's database refuses some rows, as it would any it cannot store.
      const allow = await refuseEntities(knex, 'component:default/refused-%');
      const names = ['ok-1', 'refused-1', 'ok-2', 'refused-2', 'ok-3', 'ok-4'];
      for (const name of names) {
        createRepositoryOf(`team-${name}`, name);
      }
      await sync();
      for (const name of names.filter(n => n.startsWith('ok-'))) {
        await present(name);
      }
      const refused = await eventually(async () => {
        const status = await statusOf(`${prefix}team-refused-1.git`);
        return status?.lastError ? status : undefined;
      }, 'the refused repository to be reported');
      // The database's words, not the statement with the entities in it.
      expect(refused.lastError).toMatch(
        /^The catalog did not take the entities of this repository: .*refused by the test/,
      );
      expect(refused.lastError).not.toMatch(/insert into/i);
      expect((await entity('refused-1')).status).toBe(404);

      // Once the catalog takes them, the next sync reads the refused repositories again.
      await allow();
      await sync();
      await present('refused-1');
      await present('refused-2');
    },
  );
});

/**
 * Makes the catalog's `refresh_state` table refuse the entities whose refs are like `pattern`; resolves to
 * a function that lifts the refusal.
 */
async function refuseEntities(knex: Knex, pattern: string) {
  const like = `'${pattern}'`;
  if (knex.client.config.client === 'pg') {
    await knex.raw(`CREATE FUNCTION refuse_entity() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'refused by the test: %', NEW.entity_ref; END $$ LANGUAGE plpgsql`);
    await knex.raw(`CREATE TRIGGER refuse_entities BEFORE INSERT ON refresh_state
      FOR EACH ROW WHEN (NEW.entity_ref LIKE ${like}) EXECUTE FUNCTION refuse_entity()`);
    return async () => {
      await knex.raw('DROP TRIGGER refuse_entities ON refresh_state');
    };
  }
  await knex.raw(`CREATE TRIGGER refuse_entities BEFORE INSERT ON refresh_state
    WHEN NEW.entity_ref LIKE ${like} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  return async () => {
    await knex.raw('DROP TRIGGER refuse_entities');
  };
}
