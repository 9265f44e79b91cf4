import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';

type TestDatabase = Awaited<ReturnType<TestDatabases['init']>>;

/** The databases of a test file, each closed when the test that opened it ends. */
export interface PorticoTestDatabases {
  eachSupportedId(): [TestDatabaseId][];
  /** A fresh, empty database; its connections close when the current test ends. */
  init(id: TestDatabaseId): Promise<TestDatabase>;
  /** Stops a backend when the current test ends, before the databases it uses close. */
  stopAfterTest(backend: { stop(): Promise<void> }): void;
}

/**
 * The databases every Portico store test runs on. `./portico test` points POSTGRES_15 at the local
 * server and sets PORTICO_TEST_REQUIRE_POSTGRES, so that a missing server fails the run instead of
 * TestDatabases quietly dropping PostgreSQL and passing on SQLite alone.
 *
 * TestDatabases keeps every database's pool open until the file ends; with parallel test files
 * that exceeded PostgreSQL's 100 connections, so each test's are closed as it ends.
 */
export function createPorticoTestDatabases(): PorticoTestDatabases {
  const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
  if (
    process.env.PORTICO_TEST_REQUIRE_POSTGRES &&
    !databases.supports('POSTGRES_15')
  ) {
    throw new Error(
      'PostgreSQL 15 is required: set BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING (./portico test does)',
    );
  }
  // Undone last-in first-out: a backend stops before the database it was given closes.
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
      await cleanup();
    }
  });
  return {
    eachSupportedId: () => databases.eachSupportedId() as [TestDatabaseId][],
    async init(id) {
      const knex = await databases.init(id);
      cleanups.push(() => knex.destroy());
      return knex;
    },
    stopAfterTest(backend) {
      cleanups.push(() => backend.stop());
    },
  };
}
