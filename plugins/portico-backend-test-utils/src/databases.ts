import { TestDatabases } from '@backstage/backend-test-utils';

/**
 * The databases every Portico store test runs on. `./portico test` points POSTGRES_15 at the local
 * server and sets PORTICO_TEST_REQUIRE_POSTGRES, so that a missing server fails the run instead of
 * TestDatabases quietly dropping PostgreSQL and passing on SQLite alone.
 */
export function createPorticoTestDatabases(): TestDatabases {
  const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
  if (
    process.env.PORTICO_TEST_REQUIRE_POSTGRES &&
    !databases.supports('POSTGRES_15')
  ) {
    throw new Error(
      'PostgreSQL 15 is required: set BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING (./portico test does)',
    );
  }
  return databases;
}
