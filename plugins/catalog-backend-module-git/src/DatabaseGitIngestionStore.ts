import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
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
  /** The branch the synced commit was read from. */
  syncedBranch?: string;
  /** Hash of the settings the synced commit was read with. */
  syncedSettings?: string;
  lastSuccessAt?: Date;
  lastAttemptAt?: Date;
  lastError?: string;
  /** When the server first answered that the repository is gone. */
  missingSince?: Date;
}

/** A complete, successful read of a repository's commit, to be stored. */
export interface RepositorySync {
  url: string;
  synced: { commit: string; branch: string; settings: string };
  files: StoredFile[];
  /** Nothing is stored for the repository yet: there is nothing to replace. */
  first?: boolean;
}

/** Where an entity ref is defined: a file of a repository. */
export interface RefClaim {
  entityRef: string;
  url: string;
  path: string;
}

/** The catalog's location key of the entities of one repository of a provider. */
export function gitLocationKey(providerId: string, url: string) {
  return `portico-git:${providerId}:${url}`;
}

/** An error the catalog reported while processing an entity of a repository. */
export interface ProcessingError {
  url: string;
  entityRef: string;
  message: string;
}

/** What the Git provider last ingested, per repository and file. */
export interface GitIngestionStore {
  listRepositories(providerId: string): Promise<RepositoryStatus[]>;
  getRepository(
    providerId: string,
    url: string,
  ): Promise<RepositoryStatus | undefined>;
  /** The files of one repository, or of every repository of the provider. */
  listFiles(
    providerId: string,
    url?: string,
  ): Promise<(StoredFile & { url: string })[]>;
  /**
   * Replaces the files of repositories, and the refs they define, after a complete, successful read of
   * each one's commit. One transaction for all: a batch costs a few statements, not a few per repository.
   */
  saveSyncs(providerId: string, syncs: RepositorySync[]): Promise<void>;
  /**
   * Records that the repository could not be read; what was ingested from it stays. With `resync`, its
   * commit is forgotten so that the next sync reads it again.
   */
  saveFailure(
    providerId: string,
    url: string,
    error: string,
    options?: { resync?: boolean },
  ): Promise<void>;
  /** Records that the server answered that the repository is gone; what was ingested from it stays. */
  saveMissing(providerId: string, url: string, error: string): Promise<void>;
  /** The repository that owns each ref: the one that defined it first, leaving out `excluding`. */
  owners(
    providerId: string,
    entityRefs: string[],
    options?: { excluding?: string },
  ): Promise<Map<string, RefClaim>>;
  /** Claims on refs that more than one repository defines; the owner is listed first for each ref. */
  listConflicts(providerId: string): Promise<RefClaim[][]>;
  /** The catalog's own processing errors for the provider's entities. */
  listProcessingErrors(providerId: string): Promise<ProcessingError[]>;
  /** Brings the planner statistics of the catalog's entity table up to date while it is filling up. */
  analyzeGrowingCatalog(addedEntities: number): Promise<void>;
  /** Records that these known repositories answered and had not changed. */
  saveUnchanged(providerId: string, urls: string[]): Promise<void>;
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

  /** SQLite plans each statement afresh: only PostgreSQL keeps the plans that analyzeGrowingCatalog is for. */
  private analyzesCatalog: boolean;

  private constructor(private readonly db: Knex) {
    this.analyzesCatalog = db.client.config.client === 'pg';
  }

  async listRepositories(providerId: string): Promise<RepositoryStatus[]> {
    const rows = await this.db('portico_git_repositories')
      .where({ provider_id: providerId })
      .orderBy('url');
    return rows.map(toRepositoryStatus);
  }

  async getRepository(
    providerId: string,
    url: string,
  ): Promise<RepositoryStatus | undefined> {
    const row = await this.db('portico_git_repositories')
      .where({ provider_id: providerId, url })
      .first();
    return row && toRepositoryStatus(row);
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

  async saveSyncs(providerId: string, syncs: RepositorySync[]): Promise<void> {
    const now = new Date();
    const replaced = syncs.filter(sync => !sync.first).map(sync => sync.url);
    await this.db.transaction(async tx => {
      for (const urls of chunk(replaced, 500)) {
        await tx('portico_git_files')
          .where({ provider_id: providerId })
          .whereIn('url', urls)
          .delete();
      }
      const files = syncs.flatMap(({ url, files: read }) =>
        read.map(file => ({
          provider_id: providerId,
          url,
          path: file.path,
          blob: file.blob,
          dependencies: JSON.stringify(file.dependencies),
          entities: JSON.stringify(file.entities),
          errors: JSON.stringify(file.errors),
        })),
      );
      for (const rows of chunk(files, 100)) {
        await tx('portico_git_files').insert(rows);
      }
      await this.replaceClaims(tx, providerId, syncs, replaced, now);
      const repositories = syncs.map(({ url, synced }) => ({
        provider_id: providerId,
        url,
        synced_commit: synced.commit,
        synced_branch: synced.branch,
        synced_settings: synced.settings,
        last_success_at: now,
        last_attempt_at: now,
        last_error: null,
        missing_since: null,
      }));
      for (const rows of chunk(repositories, 100)) {
        await tx('portico_git_repositories')
          .insert(rows)
          .onConflict(['provider_id', 'url'])
          .merge(
            Object.keys(rows[0]).filter(
              c => c !== 'provider_id' && c !== 'url',
            ),
          );
      }
    });
  }

  /**
   * Keeps the claim time of refs a repository still defines: the earliest claim owns a ref (repositories
   * saved together claim at the same time, and then the URL decides).
   */
  private async replaceClaims(
    tx: Knex.Transaction,
    providerId: string,
    syncs: RepositorySync[],
    replaced: string[],
    now: Date,
  ) {
    const existing = new Map<string, { entity_ref: string; path: string }[]>();
    for (const urls of chunk(replaced, 500)) {
      const rows = await tx('portico_git_entity_refs')
        .where({ provider_id: providerId })
        .whereIn('url', urls)
        .select('url', 'entity_ref', 'path');
      for (const row of rows) {
        existing.set(row.url, [...(existing.get(row.url) ?? []), row]);
      }
    }
    const added = [];
    for (const { url, files } of syncs) {
      const claims = new Map<string, string>();
      for (const file of files) {
        for (const entity of file.entities) {
          const ref = stringifyEntityRef(entity);
          if (!claims.has(ref)) claims.set(ref, file.path);
        }
      }
      const rows = existing.get(url) ?? [];
      const dropped = rows
        .filter(row => !claims.has(row.entity_ref))
        .map(row => row.entity_ref);
      for (const refs of chunk(dropped, 500)) {
        await tx('portico_git_entity_refs')
          .where({ provider_id: providerId, url })
          .whereIn('entity_ref', refs)
          .delete();
      }
      const moved = rows.filter(
        row =>
          claims.has(row.entity_ref) && claims.get(row.entity_ref) !== row.path,
      );
      for (const row of moved) {
        await tx('portico_git_entity_refs')
          .where({ provider_id: providerId, url, entity_ref: row.entity_ref })
          .update({ path: claims.get(row.entity_ref) });
      }
      const known = new Set(rows.map(row => row.entity_ref));
      for (const [ref, path] of claims) {
        if (!known.has(ref)) {
          added.push({
            provider_id: providerId,
            entity_ref: ref,
            url,
            path,
            claimed_at: now,
          });
        }
      }
    }
    for (const rows of chunk(added, 100)) {
      await tx('portico_git_entity_refs').insert(rows);
    }
  }

  async owners(
    providerId: string,
    entityRefs: string[],
    options: { excluding?: string } = {},
  ): Promise<Map<string, RefClaim>> {
    const owners = new Map<string, RefClaim>();
    for (const refs of chunk(entityRefs, 500)) {
      const rows = await this.db('portico_git_entity_refs')
        .where({ provider_id: providerId })
        .whereIn('entity_ref', refs)
        .modify(query => {
          if (options.excluding) query.whereNot('url', options.excluding);
        })
        .orderBy(['entity_ref', 'claimed_at', 'url']);
      for (const row of rows) {
        if (!owners.has(row.entity_ref))
          owners.set(row.entity_ref, toClaim(row));
      }
    }
    return owners;
  }

  async listConflicts(providerId: string): Promise<RefClaim[][]> {
    const rows = await this.db('portico_git_entity_refs')
      .where({ provider_id: providerId })
      .whereIn(
        'entity_ref',
        this.db('portico_git_entity_refs')
          .where({ provider_id: providerId })
          .groupBy('entity_ref')
          .havingRaw('count(*) > 1')
          .select('entity_ref'),
      )
      .orderBy(['entity_ref', 'claimed_at', 'url']);
    const byRef = new Map<string, RefClaim[]>();
    for (const row of rows) {
      byRef.set(row.entity_ref, [
        ...(byRef.get(row.entity_ref) ?? []),
        toClaim(row),
      ]);
    }
    return [...byRef.values()];
  }

  async listProcessingErrors(providerId: string): Promise<ProcessingError[]> {
    // The catalog keeps these in its refresh_state table, which is in the same database as ours.
    const prefix = gitLocationKey(providerId, '');
    const rows = await this.db('refresh_state')
      .whereRaw('substr(location_key, 1, ?) = ?', [prefix.length, prefix])
      .whereNotNull('errors')
      .whereNotIn('errors', ['', '[]'])
      .select('entity_ref', 'location_key', 'errors')
      .orderBy('entity_ref');
    return rows.flatMap(row =>
      (JSON.parse(row.errors) as { message?: string }[]).map(error => ({
        url: row.location_key.slice(prefix.length),
        entityRef: row.entity_ref,
        message: error.message ?? String(error),
      })),
    );
  }

  /**
   * PostgreSQL plans a foreign-key check once per connection and keeps the plan until the table's
   * statistics change. In a fresh catalog the first entities go into a refresh_state that is empty or
   * nearly so, the check on refresh_state_references is planned as a scan of the whole table, and every
   * later insert scans it for each row: the catalog's mutations slow down as it fills (a batch of 1,000
   * entities took up to 1.2 s, almost all of it those checks) until autovacuum's first ANALYZE, up to a
   * minute on. So while the statistics count under a tenth of the rows, they are brought up to date,
   * which makes PostgreSQL plan again, with the index. In a catalog in use they are close: nothing to do.
   */
  async analyzeGrowingCatalog(addedEntities: number): Promise<void> {
    if (!this.analyzesCatalog) return;
    const { rows } = await this.db.raw(
      `select c.reltuples, s.n_live_tup from pg_class c
       left join pg_stat_user_tables s on s.relid = c.oid
       where c.oid = to_regclass('refresh_state')`,
    );
    if (!rows.length) return;
    // reltuples is -1 until the first ANALYZE or VACUUM (0 before PostgreSQL 14).
    const estimated = Number(rows[0].reltuples);
    // The cumulative statistics may not count the entities just added yet.
    const live = Math.max(
      Number(rows[0].n_live_tup ?? 0),
      estimated + addedEntities,
    );
    if (estimated <= 0 || estimated * 10 < live) {
      try {
        await this.db.raw('analyze refresh_state');
      } catch (error) {
        // Not the table's owner, say: autovacuum will do it, and this is not tried again.
        this.analyzesCatalog = false;
        throw error;
      }
    }
  }

  async saveFailure(
    providerId: string,
    url: string,
    error: string,
    options: { resync?: boolean } = {},
  ): Promise<void> {
    await this.upsertRepository(this.db, providerId, url, {
      last_attempt_at: new Date(),
      last_error: error,
      ...(options.resync ? { synced_commit: null } : {}),
    });
  }

  async saveMissing(
    providerId: string,
    url: string,
    error: string,
  ): Promise<void> {
    const now = new Date();
    await this.upsertRepository(this.db, providerId, url, {
      last_attempt_at: now,
      last_error: error,
    });
    await this.db('portico_git_repositories')
      .where({ provider_id: providerId, url })
      .whereNull('missing_since')
      .update({ missing_since: now });
  }

  async saveUnchanged(providerId: string, urls: string[]): Promise<void> {
    const now = new Date();
    for (const some of chunk(urls, 500)) {
      await this.db('portico_git_repositories')
        .where({ provider_id: providerId })
        .whereIn('url', some)
        .update({
          last_success_at: now,
          last_attempt_at: now,
          last_error: null,
          missing_since: null,
        });
    }
  }

  async removeRepository(providerId: string, url: string): Promise<void> {
    await this.db.transaction(async tx => {
      await tx('portico_git_files')
        .where({ provider_id: providerId, url })
        .delete();
      await tx('portico_git_entity_refs')
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

function toClaim(row: {
  entity_ref: string;
  url: string;
  path: string;
}): RefClaim {
  return { entityRef: row.entity_ref, url: row.url, path: row.path };
}

/** Keeps `IN (...)` lists and multi-row inserts under SQLite's limit on bound variables. */
function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    chunks.push(items.slice(i, i + size));
  }
  return chunks;
}

function toRepositoryStatus(row: any): RepositoryStatus {
  return {
    url: row.url,
    syncedCommit: row.synced_commit ?? undefined,
    syncedBranch: row.synced_branch ?? undefined,
    syncedSettings: row.synced_settings ?? undefined,
    lastSuccessAt: row.last_success_at
      ? new Date(row.last_success_at)
      : undefined,
    lastAttemptAt: row.last_attempt_at
      ? new Date(row.last_attempt_at)
      : undefined,
    lastError: row.last_error ?? undefined,
    missingSince: row.missing_since ? new Date(row.missing_since) : undefined,
  };
}
