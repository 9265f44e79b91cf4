import {
  LoggerService,
  SchedulerServiceTaskRunner,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_EDIT_URL,
  ANNOTATION_LOCATION,
  ANNOTATION_ORIGIN_LOCATION,
  ANNOTATION_SOURCE_LOCATION,
  ANNOTATION_VIEW_URL,
  Entity,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import {
  DeferredEntity,
  EntityProvider,
  EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import { isError } from '@backstage/errors';
import { Minimatch } from 'minimatch';
import { createHash } from 'node:crypto';
import {
  gitLocationKey,
  GitIngestionStore,
  RefClaim,
  RepositoryStatus,
  RepositorySync,
  StoredFile,
} from './DatabaseGitIngestionStore';
import {
  DEFAULT_MAX_DESCRIPTOR_BYTES,
  DescriptorError,
  oversizeProblem,
  parseDescriptor,
} from './descriptors';
import {
  CommitReader,
  GitCli,
  RepositoryNotFoundError,
  SYMLINK_MODE,
  TreeEntry,
} from './git';
import { fileLocations, HostType, pathInRepository } from './locations';
import { RepositoryDiscovery } from './discovery';

export const ANNOTATION_GIT_COMMIT = 'portico.dev/git-commit';

/** Where a sync's time goes, summed over the repositories read at once; logged after each sync. */
class SyncReport {
  private readonly started = performance.now();
  readonly counts = { changed: 0, failed: 0 };
  /** Bytes of the packs read in memory. */
  receivedBytes = 0;
  /** Repositories that answered with the commit already ingested. */
  readonly unchanged: string[] = [];
  private readonly seconds: Record<string, number> = {
    'ls-remote': 0,
    fetch: 0,
    parse: 0,
    store: 0,
    'catalog mutation': 0,
  };

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.seconds[phase] += (performance.now() - start) / 1000;
    }
  }

  summary(concurrency: number) {
    const total = (performance.now() - this.started) / 1000;
    const { changed, failed } = this.counts;
    const unchanged = this.unchanged.length;
    const phases = Object.entries(this.seconds)
      .map(([phase, seconds]) => `${phase} ${seconds.toFixed(1)}s`)
      .join(', ');
    return `Synced ${
      changed + unchanged + failed
    } repositories in ${total.toFixed(
      1,
    )}s: ${changed} changed, ${unchanged} unchanged, ${failed} failed; summed over ${concurrency} at once: ${phases}; ${(
      this.receivedBytes / 1e6
    ).toFixed(1)} MB of packs read in memory`;
  }
}

export interface GitProviderSettings {
  id: string;
  /** Remote URLs, without credentials. */
  repositories: string[];
  /** Repositories found by listing a directory of this machine, with globs. */
  discovery?: RepositoryDiscovery;
  branch?: string;
  files: string[];
  /** How many repositories are read at once. */
  concurrency: number;
}

/** A repository read completely, with the files stored for it before. */
type ReadRepository = RepositorySync & { before: StoredFile[] };

type DeltaMutation = {
  type: 'delta';
  added: DeferredEntity[];
  removed: { entityRef: string; locationKey: string }[];
};

/**
 * Commits the repositories read in one sync in batches, one at a time: while a batch is stored (one
 * transaction) and sent to the catalog (one mutation), the repositories read meanwhile gather into the
 * next. The workers do not wait for it, and a batch costs a few SQL statements rather than a few per
 * repository: the backend's main thread and PostgreSQL are shared with the catalog's processing.
 */
class SyncCommitter {
  private pending: ReadRepository[] = [];
  private committing?: Promise<void>;
  /** Kept for `settled`: a rejection nobody awaits yet would end the backend. */
  private failure?: unknown;

  constructor(
    private readonly commit: (batch: ReadRepository[]) => Promise<void>,
    private readonly maxRepositories = 100,
  ) {}

  add(sync: ReadRepository) {
    this.pending.push(sync);
    this.committing ??= this.drain();
  }

  /** Resolves once every repository added is committed (or its failure recorded). */
  async settled(): Promise<void> {
    await this.committing;
    if (this.failure) throw this.failure;
  }

  private async drain() {
    try {
      while (this.pending.length) {
        await this.commit(this.pending.splice(0, this.maxRepositories));
      }
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.committing = undefined;
    }
  }
}

/**
 * Ingests descriptor files from Git repositories. Only a complete answer about a repository changes what
 * came from it: an unreachable server or a failed fetch leaves its entities as they were, a file that
 * stops parsing keeps its last good entities while its error is recorded, and a repository the server
 * says is gone is removed only when the next sync says so too.
 *
 * When two repositories define the same entity ref, the one that defined it first keeps it; the other's
 * definition is reported as a conflict and takes over only when the first one drops it.
 */
export class GitEntityProvider implements EntityProvider {
  private connection?: EntityProviderConnection;
  /** A repository is read again when these change, even at the same commit. */
  private readonly settingsHash: string;
  /** `settings.files`, compiled once: they are matched against every path of every changed repository. */
  private readonly descriptorPatterns: Minimatch[];

  constructor(
    private readonly settings: GitProviderSettings,
    private readonly deps: {
      git: GitCli;
      store: GitIngestionStore;
      logger: LoggerService;
      taskRunner: SchedulerServiceTaskRunner;
      hostType: (remote: string) => HostType | undefined;
    },
  ) {
    const { branch, files } = settings;
    this.settingsHash = createHash('sha256')
      .update(JSON.stringify({ branch, files }))
      .digest('hex');
    this.descriptorPatterns = files.map(
      pattern => new Minimatch(pattern, { dot: true }),
    );
  }

  getProviderName(): string {
    return `portico-git:${this.settings.id}`;
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    await this.deps.taskRunner.run({
      id: `${this.getProviderName()}:sync`,
      fn: abortSignal => this.sync(abortSignal),
    });
  }

  /** One pass over every configured and discovered repository. */
  async sync(abortSignal?: AbortSignal): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('GitEntityProvider is not connected');
    const { id, discovery } = this.settings;
    const { store, logger } = this.deps;

    const known = new Map(
      (await store.listRepositories(id)).map(r => [r.url, r]),
    );
    const urls = new Set(this.settings.repositories);
    if (discovery) {
      try {
        for (const url of await discovery.list()) urls.add(url);
      } catch (error) {
        logger.warn(
          `Listing repositories under ${discovery.prefix} failed; the known ones are synced as they are: ${error}`,
        );
      }
      // A known repository that the listing no longer shows is asked about: only the server's answer
      // that it is gone removes it, and only when two syncs in a row give that answer.
      for (const url of known.keys()) {
        if (discovery.matches(url)) urls.add(url);
      }
    }
    for (const url of known.keys()) {
      if (!urls.has(url)) {
        logger.info(`${url} is no longer configured; removing its entities`);
        await this.removeRepository(connection, url);
      }
    }

    const report = new SyncReport();
    const committer = new SyncCommitter(batch =>
      this.commitBatch(connection, report, batch),
    );
    const queue = [...urls];
    const worker = async () => {
      for (let url = queue.shift(); url; url = queue.shift()) {
        if (abortSignal?.aborted) return;
        await this.syncRepository(
          connection,
          committer,
          url,
          known.get(url),
          report,
        );
      }
    };
    await this.deps.git.withCache(() =>
      Promise.all(Array.from({ length: this.settings.concurrency }, worker)),
    );
    await committer.settled();
    await report.time('store', () => store.saveUnchanged(id, report.unchanged));
    logger.info(report.summary(this.settings.concurrency));
  }

  /** Reads one repository; when it changed, hands what was read to the committer. */
  private async syncRepository(
    connection: EntityProviderConnection,
    committer: SyncCommitter,
    url: string,
    known: RepositoryStatus | undefined,
    report: SyncReport,
  ): Promise<void> {
    const { id, branch } = this.settings;
    const { git, store, logger } = this.deps;
    try {
      // A repository never read before is fetched straight away, unless the name of its default
      // branch is needed for its web URLs.
      const needsHead = known || (!branch && this.deps.hostType(url));
      const head = needsHead
        ? await report.time('ls-remote', () => git.headCommit(url, branch))
        : undefined;
      if (
        head &&
        head.commit === known?.syncedCommit &&
        this.settingsHash === known.syncedSettings
      ) {
        report.unchanged.push(url);
        return;
      }
      const before = known
        ? await report.time('store', () => store.listFiles(id, url))
        : [];
      const previous = new Map(before.map(file => [file.path, file]));
      const snapshot = await report.time('fetch', () =>
        git.fetchSnapshot(url, branch),
      );
      const { commit } = snapshot;
      const files = await report.time('parse', async () => {
        const tree = new Map(
          (
            await snapshot.files.listTree(commit, dir =>
              this.mayHoldDescriptors(dir),
            )
          ).map(entry => [entry.path, entry]),
        );
        const descriptors = [...tree.values()].filter(entry =>
          this.isDescriptor(entry.path),
        );
        // Where the server left the blobs out, the changed ones come in one request rather than one each.
        await snapshot.files.prefetch(
          descriptors
            .filter(
              entry =>
                entry.mode !== SYMLINK_MODE &&
                entry.blob !== previous.get(entry.path)?.blob,
            )
            .map(entry => entry.blob),
        );
        const read: StoredFile[] = [];
        for (const entry of descriptors) {
          read.push(
            await this.readFile(
              url,
              snapshot.files,
              commit,
              entry,
              tree,
              previous.get(entry.path),
            ),
          );
        }
        report.receivedBytes += snapshot.files.receivedBytes ?? 0;
        return read;
      });
      for (const problem of files.flatMap(f => f.errors)) {
        const where = problem.line
          ? `${problem.file}:${problem.line}`
          : problem.file;
        logger.warn(`${url} ${where}: ${problem.message}`);
      }
      committer.add({
        url,
        synced: {
          commit,
          branch: head?.branch ?? branch ?? 'HEAD',
          settings: this.settingsHash,
        },
        files,
        before,
        first: !known,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report.counts.failed += 1;
      if (error instanceof RepositoryNotFoundError) {
        await this.handleMissing(connection, url, known, message);
        return;
      }
      // Nothing is removed: the server did not give a complete answer.
      logger.warn(
        `Git ingestion of ${url} failed, keeping what was ingested: ${message}`,
      );
      await store.saveFailure(id, url, message);
    }
  }

  /**
   * Stores a batch of repositories read in one transaction, then sends the catalog their mutations in
   * one. Our record is updated first: if the catalog does not take the mutation, the next sync reads
   * those repositories again. Either step that fails is tried again for each repository alone, so that
   * one whose rows the database refuses fails by itself and holds back no other.
   */
  private async commitBatch(
    connection: EntityProviderConnection,
    report: SyncReport,
    batch: ReadRepository[],
  ) {
    const { id } = this.settings;
    const { store, logger } = this.deps;
    const saved = await eachAloneOnFailure(
      batch,
      repositories =>
        report.time('store', () => store.saveSyncs(id, repositories)),
      async ({ url }, error) => {
        logger.warn(
          `Git ingestion of ${url} failed, keeping what was ingested: ${error}`,
        );
        report.counts.failed += 1;
        await store.saveFailure(id, url, String(error));
      },
    );
    await eachAloneOnFailure(
      saved,
      repositories => this.mutate(connection, report, repositories),
      async ({ url }, error) => {
        const message = `The catalog did not take the entities of this repository: ${databaseMessage(
          error,
        )}`;
        logger.warn(`${url}: ${message}`);
        report.counts.failed += 1;
        await store.saveFailure(id, url, message, { resync: true });
      },
    );
  }

  /** Sends the catalog one mutation for the repositories stored. */
  private async mutate(
    connection: EntityProviderConnection,
    report: SyncReport,
    saved: ReadRepository[],
  ) {
    const { id } = this.settings;
    const { store, logger } = this.deps;
    const owners = await report.time('store', () =>
      store.owners(id, [
        ...new Set(
          saved.flatMap(s => [...entityRefs(s.files), ...entityRefs(s.before)]),
        ),
      ]),
    );
    const mutations: DeltaMutation[] = [];
    for (const { url, files, before, synced } of saved) {
      mutations.push(
        await this.mutation(url, { before, after: files, synced }, owners),
      );
    }
    const added = mutations.flatMap(m => m.added);
    await report.time('catalog mutation', () =>
      connection.applyMutation({
        type: 'delta',
        added,
        removed: mutations.flatMap(m => m.removed),
      }),
    );
    report.counts.changed += saved.length;
    if (added.length) {
      await report.time('catalog mutation', () =>
        store.analyzeGrowingCatalog(added.length).catch(error => {
          logger.warn(`Analyzing the catalog's entity table failed: ${error}`);
        }),
      );
    }
  }

  /** The server says the repository is gone: believed when the previous sync heard the same. */
  private async handleMissing(
    connection: EntityProviderConnection,
    url: string,
    known: RepositoryStatus | undefined,
    message: string,
  ) {
    const { id } = this.settings;
    if (known?.missingSince) {
      this.deps.logger.info(
        `${url} is gone since ${known.missingSince.toISOString()}; removing its entities`,
      );
      await this.removeRepository(connection, url);
      if (!this.settings.repositories.includes(url)) return;
    }
    // A configured repository stays listed, with the error, so that a person sees it is gone.
    await this.deps.store.saveMissing(
      id,
      url,
      known?.missingSince
        ? `${message}; its entities were removed`
        : `${message}; its entities are removed if the next sync finds it gone too`,
    );
  }

  private async readFile(
    remote: string,
    objects: CommitReader,
    commit: string,
    entry: TreeEntry,
    tree: Map<string, TreeEntry>,
    previous: StoredFile | undefined,
  ): Promise<StoredFile> {
    // Placeholder targets may lie outside the directories listed for descriptors.
    const fileAt = async (path: string) =>
      tree.get(path) ?? (await objects.entry(commit, path));
    // A target that was missing is stored as '': the file is read again once it appears.
    const blobAt = async (path: string) => (await fileAt(path))?.blob ?? '';
    let unchanged = previous?.blob === entry.blob;
    for (const [path, blob] of Object.entries(previous?.dependencies ?? {})) {
      if (unchanged) unchanged = (await blobAt(path)) === blob;
    }
    if (previous && unchanged) return previous;
    // A file that cannot be read keeps serving its last good entities; its errors say why.
    const failed = (errors: DescriptorError[]): StoredFile => ({
      path: entry.path,
      blob: entry.blob,
      dependencies: {},
      entities: previous?.entities ?? [],
      errors,
    });
    if (entry.mode === SYMLINK_MODE) {
      return failed([
        {
          file: entry.path,
          message: 'descriptor is a symbolic link; links are not followed',
        },
      ]);
    }
    const content = await objects.read(
      entry.blob,
      DEFAULT_MAX_DESCRIPTOR_BYTES,
    );
    if (!Buffer.isBuffer(content)) {
      return failed([oversizeProblem(entry.path, content)!]);
    }
    const dependencies: Record<string, string> = {};
    const parsed = await parseDescriptor({
      path: entry.path,
      content,
      readFile: async (path, maxBytes) => {
        const target = await fileAt(path);
        dependencies[path] = target?.blob ?? '';
        if (!target || target.mode === SYMLINK_MODE) return undefined;
        return objects.read(target.blob, maxBytes);
      },
      pathOfUrl: url =>
        pathInRepository(url, { remote, hostType: this.deps.hostType(remote) }),
    });
    if (parsed.errors.length) {
      // The documents that read well are taken. The file's earlier entities stay beside them until it
      // reads without errors: a broken document may be one of them.
      const taken = new Set(parsed.entities.map(e => stringifyEntityRef(e)));
      const kept = (previous?.entities ?? []).filter(
        e => !taken.has(stringifyEntityRef(e)),
      );
      return {
        ...failed(parsed.errors),
        dependencies,
        entities: [...parsed.entities, ...kept],
      };
    }
    return {
      path: entry.path,
      blob: entry.blob,
      dependencies,
      entities: parsed.entities,
      errors: [],
    };
  }

  /**
   * What the catalog gets from a repository whose files went from `before` to `after` (already saved,
   * unless the repository is `leaving`): the entities whose refs it owns, and for each ref it dropped,
   * either the removal or the definition of the repository that owns the ref now.
   */
  private async mutation(
    url: string,
    change: {
      before: StoredFile[];
      after: StoredFile[];
      synced?: { commit: string; branch: string };
      /** The repository is being removed, its claims still stored: they do not count. */
      leaving?: boolean;
    },
    /** The owners of at least these refs, when the caller looked them up for several repositories. */
    knownOwners?: Map<string, RefClaim>,
  ): Promise<DeltaMutation> {
    const { before, after, synced, leaving } = change;
    const { store } = this.deps;
    const { id } = this.settings;
    const repositories = new Map<string, RepositoryStatus | undefined>();
    if (synced) {
      repositories.set(url, {
        url,
        syncedCommit: synced.commit,
        syncedBranch: synced.branch,
      });
    }
    const emit = async (
      entity: Entity,
      from: { url: string; path: string },
    ): Promise<DeferredEntity> => {
      if (!repositories.has(from.url)) {
        repositories.set(from.url, await store.getRepository(id, from.url));
      }
      return {
        entity: this.withOrigin(entity, from, repositories.get(from.url)),
        locationKey: this.locationKey(from.url),
      };
    };
    const entities = new Map<string, { entity: Entity; path: string }>();
    for (const file of after) {
      for (const entity of file.entities) {
        entities.set(stringifyEntityRef(entity), { entity, path: file.path });
      }
    }
    const dropped = [...entityRefs(before)].filter(ref => !entities.has(ref));
    const owners =
      knownOwners ??
      (await store.owners(id, [...entities.keys(), ...dropped], {
        excluding: leaving ? url : undefined,
      }));
    const added: DeferredEntity[] = [];
    for (const [ref, { entity, path }] of entities) {
      if (owners.get(ref)?.url === url) {
        added.push(await emit(entity, { url, path }));
      }
    }
    const removed = [];
    for (const ref of dropped) {
      const owner = owners.get(ref);
      if (!owner) {
        removed.push({ entityRef: ref, locationKey: this.locationKey(url) });
        continue;
      }
      // Another repository defines it too: its definition takes over.
      const file = (await store.listFiles(id, owner.url)).find(
        f => f.path === owner.path,
      );
      const entity = file?.entities.find(e => stringifyEntityRef(e) === ref);
      if (entity) added.push(await emit(entity, owner));
    }
    return { type: 'delta' as const, added, removed };
  }

  /**
   * Adds where an entity came from: the location annotations and the commit it was read at. Values that
   * the file sets itself are kept.
   */
  private withOrigin(
    entity: Entity,
    from: { url: string; path: string },
    repository: RepositoryStatus | undefined,
  ): Entity {
    const locations = fileLocations({
      remote: from.url,
      path: from.path,
      branch: repository?.syncedBranch ?? 'HEAD',
      hostType: this.deps.hostType(from.url),
    });
    const own = entity.metadata.annotations ?? {};
    return {
      ...entity,
      metadata: {
        ...entity.metadata,
        annotations: {
          [ANNOTATION_SOURCE_LOCATION]: locations.source,
          ...(locations.viewUrl && {
            [ANNOTATION_VIEW_URL]: locations.viewUrl,
            [ANNOTATION_EDIT_URL]: locations.editUrl,
          }),
          ...own,
          [ANNOTATION_LOCATION]: locations.location,
          [ANNOTATION_ORIGIN_LOCATION]: locations.location,
          ...(repository?.syncedCommit && {
            [ANNOTATION_GIT_COMMIT]: repository.syncedCommit,
          }),
        },
      },
    };
  }

  private async removeRepository(
    connection: EntityProviderConnection,
    url: string,
  ) {
    const { store } = this.deps;
    const files = await store.listFiles(this.settings.id, url);
    // The catalog first, then our record: if the mutation fails, the next sync removes it again.
    await connection.applyMutation(
      await this.mutation(url, { before: files, after: [], leaving: true }),
    );
    await store.removeRepository(this.settings.id, url);
  }

  /** Whether a directory can hold descriptors: only those are listed. */
  private mayHoldDescriptors(directory: string) {
    return this.descriptorPatterns.some(pattern =>
      pattern.match(directory, true),
    );
  }

  private isDescriptor(path: string) {
    return this.descriptorPatterns.some(pattern => pattern.match(path));
  }

  private locationKey(url: string) {
    return gitLocationKey(this.settings.id, url);
  }
}

function entityRefs(files: StoredFile[]): Set<string> {
  return new Set(
    files.flatMap(f => f.entities.map(e => stringifyEntityRef(e))),
  );
}

/**
 * Runs `attempt` on the whole batch; if it fails, on each repository alone, telling `failed` of each one
 * that fails by itself. Resolves to the repositories it succeeded for.
 */
async function eachAloneOnFailure(
  batch: ReadRepository[],
  attempt: (repositories: ReadRepository[]) => Promise<void>,
  failed: (repository: ReadRepository, error: unknown) => Promise<void>,
): Promise<ReadRepository[]> {
  if (!batch.length) return [];
  try {
    await attempt(batch);
    return batch;
  } catch (error) {
    if (batch.length === 1) {
      await failed(batch[0], error);
      return [];
    }
    const succeeded = [];
    for (const repository of batch) {
      succeeded.push(
        ...(await eachAloneOnFailure([repository], attempt, failed)),
      );
    }
    return succeeded;
  }
}

/**
 * The database's own words in an error from knex, which puts the whole statement before them (with the
 * entities' JSON in it, on SQLite), at times after the error's name: that is no message for a status page.
 */
function databaseMessage(error: unknown): string {
  const message = isError(error) ? error.message : String(error);
  const statementEnd = message.lastIndexOf(' - ');
  return /^(\w+: )?(insert|update|delete|select|with)\s/i.test(message) &&
    statementEnd > 0
    ? message.slice(statementEnd + 3)
    : message;
}
