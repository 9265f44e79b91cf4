import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { createPorticoTestDatabases } from '@internal/portico-backend-test-utils';

const databases = createPorticoTestDatabases();
const migrations = {
  directory: resolvePackagePath(
    '@internal/plugin-catalog-backend-module-git',
    'migrations',
  ),
  tableName: 'portico_git_knex_migrations',
};

const tables = [
  'portico_git_repositories',
  'portico_git_files',
  'portico_git_entity_refs',
];

describe('migrations', () => {
  it.each(databases.eachSupportedId())(
    'create the ingestion tables and remove them again (%p)',
    async databaseId => {
      const knex = await databases.init(databaseId);
      await knex.migrate.latest(migrations);
      for (const table of tables) {
        expect(await knex.schema.hasTable(table)).toBe(true);
      }
      expect(
        await knex.schema.hasColumn(
          'portico_git_repositories',
          'missing_since',
        ),
      ).toBe(true);
      await knex('portico_git_files').insert({
        provider_id: 'p',
        url: 'https://git.example.com/a.git',
        path: 'catalog-info.yaml',
        blob: 'b1',
        dependencies: '{}',
        entities: '[]',
        errors: '[]',
      });

      await knex.migrate.rollback(migrations, true);
      for (const table of tables) {
        expect(await knex.schema.hasTable(table)).toBe(false);
      }
    },
  );
});
