import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { Knex } from 'knex';
import { DescriptorError } from './descriptors';

export interface StoredFile {
  path: string;
  blob: string;
  /** Blob id of each placeholder target read, by path: the file is read again when one changes. */
  dependencies: Record<string, string>;
  entities: Entity[];
  errors: DescriptorError[];
}

export interface RepositoryStatus {
  url: string;
  syncedCommit?: string;
  /** Hash of the settings the synced commit was read with. */
  syncedSettings?: string;
  lastSuccessAt?: Date;
  lastAttemptAt?: Date;
  lastError?: string;
}

/** What the Git provider last ingested, per repository and file. */
export interface GitIngestionStore {
  listRepositories(providerId: string): Promise<RepositoryStatus[]>;
  /** The files of one repository, or of every repository of the provider. */
  listFiles(
    providerId: string,
    url?: string,
  ): Promise<(StoredFile & { url: string })[]>;
  /** Replaces the files of a repository after a complete, successful read of `commit`. */
  saveSync(
    providerId: string,
    url: string,
    synced: { commit: string; settings: string },
    files: StoredFile[],
  ): Promise<void>;
  /** Records that the repository could not be read; what was ingested from it stays. */
  saveFailure(providerId: string, url: string, error: string): Promise<void>;
  /** Records that the repository was read and had not changed. */
  saveUnchanged(providerId: string, url: string): Promise<void>;
  removeRepository(providerId: string, url: string): Promise<void>;
}

const migrationsDir = resolvePackagePath(
  '@internal/plugin-catalog-backend-module-git',
  'migrations',
);

export class DatabaseGitIngestionStore implements GitIngestionStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseGitIngestionStore> {
    const client = await options.database.getClient();
    if (!options.database.migrations?.skip) {
      // The catalog's database is shared with the catalog: keep our own migrations table.
      await client.migrate.latest({
        directory: migrationsDir,
        tableName: 'portico_git_knex_migrations',
      });
    }
    return new DatabaseGitIngestionStore(client);
  }

  private constructor(private readonly db: Knex) {}

  async listRepositories(providerId: string): Promise<RepositoryStatus[]> {
    const rows = await this.db('portico_git_repositories')
      .where({ provider_id: providerId })
      .orderBy('url');
    return rows.map(row => ({
      url: row.url,
      syncedCommit: row.synced_commit ?? undefined,
      syncedSettings: row.synced_settings ?? undefined,
      lastSuccessAt: row.last_success_at
        ? new Date(row.last_success_at)
        : undefined,
      lastAttemptAt: row.last_attempt_at
        ? new Date(row.last_attempt_at)
        : undefined,
      lastError: row.last_error ?? undefined,
    }));
  }

  async listFiles(
    providerId: string,
    url?: string,
  ): Promise<(StoredFile & { url: string })[]> {
    const rows = await this.db('portico_git_files')
      .where({ provider_id: providerId, ...(url ? { url } : {}) })
      .orderBy(['url', 'path']);
    return rows.map(row => ({
      url: row.url,
      path: row.path,
      blob: row.blob,
      dependencies: JSON.parse(row.dependencies),
      entities: JSON.parse(row.entities),
      errors: JSON.parse(row.errors),
    }));
  }

  async saveSync(
    providerId: string,
    url: string,
    synced: { commit: string; settings: string },
    files: StoredFile[],
  ): Promise<void> {
    const now = new Date();
    await this.db.transaction(async tx => {
      await tx('portico_git_files')
        .where({ provider_id: providerId, url })
        .delete();
      if (files.length) {
        await tx.batchInsert(
          'portico_git_files',
          files.map(file => ({
            provider_id: providerId,
            url,
            path: file.path,
            blob: file.blob,
            dependencies: JSON.stringify(file.dependencies),
            entities: JSON.stringify(file.entities),
            errors: JSON.stringify(file.errors),
          })),
          100,
        );
      }
      await this.upsertRepository(tx, providerId, url, {
        synced_commit: synced.commit,
        synced_settings: synced.settings,
        last_success_at: now,
        last_attempt_at: now,
        last_error: null,
      });
    });
  }

  async saveFailure(
    providerId: string,
    url: string,
    error: string,
  ): Promise<void> {
    await this.upsertRepository(this.db, providerId, url, {
      last_attempt_at: new Date(),
      last_error: error,
    });
  }

  async saveUnchanged(providerId: string, url: string): Promise<void> {
    const now = new Date();
    await this.upsertRepository(this.db, providerId, url, {
      last_success_at: now,
      last_attempt_at: now,
      last_error: null,
    });
  }

  async removeRepository(providerId: string, url: string): Promise<void> {
    await this.db.transaction(async tx => {
      await tx('portico_git_files')
        .where({ provider_id: providerId, url })
        .delete();
      await tx('portico_git_repositories')
        .where({ provider_id: providerId, url })
        .delete();
    });
  }

  private async upsertRepository(
    db: Knex | Knex.Transaction,
    providerId: string,
    url: string,
    fields: Record<string, unknown>,
  ) {
    await db('portico_git_repositories')
      .insert({ provider_id: providerId, url, ...fields })
      .onConflict(['provider_id', 'url'])
      .merge(fields);
  }
}
