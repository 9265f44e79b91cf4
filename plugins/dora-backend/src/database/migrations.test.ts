import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { createPorticoTestDatabases } from '@internal/portico-backend-test-utils';

const databases = createPorticoTestDatabases();
const migrations = {
  directory: resolvePackagePath('@internal/plugin-dora-backend', 'migrations'),
  tableName: 'dora_knex_migrations',
};
const tables = ['dora_deployments', 'dora_changes', 'dora_incidents'];

describe('DORA migrations', () => {
  it.each(databases.eachSupportedId())(
    'create the tables, step back through every migration, and remove them (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest(migrations);
      for (const table of tables) {
        expect(await knex.schema.hasTable(table)).toBe(true);
      }
      expect(
        await knex.schema.hasColumn('dora_deployments', 'shipped_changes'),
      ).toBe(true);
      // Without them, days written to keep their versions and summaries keep stale days for good.
      const triggers =
        knex.client.config.client === 'pg'
          ? await knex('pg_trigger')
              .where({ tgisinternal: false })
              .pluck('tgname')
          : await knex('sqlite_master')
              .where({ type: 'trigger' })
              .pluck('name');
      expect([...triggers].sort()).toEqual(
        ['dora_changes', 'dora_deployments'].flatMap(table =>
          ['delete', 'insert', 'update'].map(
            event => `${table}_touch_${event}`,
          ),
        ),
      );

      // One at a time, so that each down runs against the schema its up left.
      while ((await knex.migrate.currentVersion(migrations)) !== 'none') {
        await knex.migrate.down(migrations);
      }
      for (const table of tables) {
        expect(await knex.schema.hasTable(table)).toBe(false);
      }
    },
  );
});
