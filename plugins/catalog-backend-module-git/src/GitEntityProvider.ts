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
import { Minimatch } from 'minimatch';
import { createHash } from 'node:crypto';
import {
  gitLocationKey,
  GitIngestionStore,
  RepositoryStatus,
  StoredFile,
} from './DatabaseGitIngestionStore';
import {
  DEFAULT_MAX_DESCRIPTOR_BYTES,
  DescriptorError,
  oversizeProblem,
  parseDescriptor,
} from './descriptors';
import {
  ObjectReader,
  GitCli,
  RepositoryNotFoundError,
  SYMLINK_MODE,
  TreeEntry,
} from './git';
import { fileLocations, HostType } from './locations';
import { RepositoryDiscovery } from './discovery';

export const ANNOTATION_GIT_COMMIT = 'portico.dev/git-commit';

/** Where a sync's time goes, summed over the repositories read at once; logged after each sync. */
class SyncReport {
  private readonly started = performance.now();
  readonly counts = { changed: 0, failed: 0 };
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
    )}s: ${changed} changed, ${unchanged} unchanged, ${failed} failed; summed over ${concurrency} at once: ${phases}`;
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

type DeltaMutation = {
  type: 'delta';
  added: DeferredEntity[];
  removed: { entityRef: string; locationKey: string }[];
};

/**
 * Gathers the catalog mutations of the repositories read in one sync into fewer, larger transactions,
 * so that reading the next repositories does not wait for the catalog's database.
 */
class MutationBatcher {
  private pending: {
    mutation: DeltaMutation;
    resolve: () => void;
    reject: (error: Error) => void;
  }[] = [];
  private pendingSize = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly connection: EntityProviderConnection,
    private readonly report: SyncReport,
    private readonly maxEntities = 500,
    private readonly maxDelayMs = 250,
  ) {}

  /** Resolves once the mutation is in the catalog; rejects when its batch failed. */
  apply(mutation: DeltaMutation): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ mutation, resolve, reject });
      this.pendingSize += mutation.added.length + mutation.removed.length;
      if (this.pendingSize >= this.maxEntities) {
        void this.flush();
      } else {
        this.timer ??= setTimeout(() => void this.flush(), this.maxDelayMs);
      }
    });
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0);
    this.pendingSize = 0;
    if (batch.length === 0) return;
    try {
      await this.report.time('catalog mutation', () =>
        this.connection.applyMutation({
          type: 'delta',
          added: batch.flatMap(b => b.mutation.added),
          removed: batch.flatMap(b => b.mutation.removed),
        }),
      );
      batch.forEach(b => b.resolve());
    } catch (error) {
      batch.forEach(b => b.reject(error as Error));
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
    const batcher = new MutationBatcher(connection, report);
    const mutations: Promise<void>[] = [];
    const queue = [...urls];
    const worker = async () => {
      for (let url = queue.shift(); url; url = queue.shift()) {
        if (abortSignal?.aborted) return;
        const applied = await this.syncRepository(
          connection,
          batcher,
          url,
          known.get(url),
          report,
        );
        if (applied) mutations.push(applied);
      }
    };
    await Promise.all(
      Array.from({ length: this.settings.concurrency }, worker),
    );
    await batcher.flush();
    await Promise.all(mutations);
    await report.time('store', () => store.saveUnchanged(id, report.unchanged));
    logger.info(report.summary(this.settings.concurrency));
  }

  /**
   * Reads one repository; when it changed, resolves to the promise of its catalog mutation, which the
   * sync awaits at its end.
   */
  private async syncRepository(
    connection: EntityProviderConnection,
    batcher: MutationBatcher,
    url: string,
    known: RepositoryStatus | undefined,
    report: SyncReport,
  ): Promise<Promise<void> | undefined> {
    const { id, branch } = this.settings;
    const { git, store, logger } = this.deps;
    let saved = false;
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
        return undefined;
      }
      const before = known
        ? await report.time('store', () => store.listFiles(id, url))
        : [];
      const previous = new Map(before.map(file => [file.path, file]));
      const { commit } = await report.time('fetch', () =>
        git.fetchHead(url, branch),
      );
      const objects = await git.objects();
      const files = await report.time('parse', async () => {
        const tree = new Map(
          (
            await objects.listTree(commit, dir => this.mayHoldDescriptors(dir))
          ).map(entry => [entry.path, entry]),
        );
        const read: StoredFile[] = [];
        for (const entry of tree.values()) {
          if (this.isDescriptor(entry.path)) {
            read.push(
              await this.readFile(
                objects,
                commit,
                entry,
                tree,
                previous.get(entry.path),
              ),
            );
          }
        }
        return read;
      });
      const synced = {
        commit,
        branch: head?.branch ?? branch ?? 'HEAD',
        settings: this.settingsHash,
      };
      await report.time('store', () =>
        store.saveSync(id, url, synced, files, { first: !known }),
      );
      saved = true;
      const mutation = await report.time('store', () =>
        this.mutation(url, { before, after: files, synced }),
      );
      report.counts.changed += 1;
      for (const problem of files.flatMap(f => f.errors)) {
        const where = problem.line
          ? `${problem.file}:${problem.line}`
          : problem.file;
        logger.warn(`${url} ${where}: ${problem.message}`);
      }
      // Our record is already updated: if the catalog does not take the mutation, the next sync reads
      // the repository again.
      return batcher.apply(mutation).catch(async error => {
        logger.warn(`Catalog mutation for ${url} failed: ${error}`);
        await store.saveFailure(id, url, String(error), { resync: true });
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report.counts.failed += 1;
      if (error instanceof RepositoryNotFoundError) {
        await this.handleMissing(connection, url, known, message);
        return undefined;
      }
      // Nothing is removed: the server did not give a complete answer. When our record was already
      // updated but the catalog was not, the next sync reads the repository again.
      logger.warn(
        `Git ingestion of ${url} failed, keeping what was ingested: ${message}`,
      );
      await store.saveFailure(id, url, message, { resync: saved });
      return undefined;
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
    objects: ObjectReader,
    commit: string,
    entry: TreeEntry,
    tree: Map<string, TreeEntry>,
    previous: StoredFile | undefined,
  ): Promise<StoredFile> {
    // Placeholder targets may lie outside the directories listed for descriptors.
    const fileAt = async (path: string) =>
      tree.get(path) ?? (await objects.entry(commit, path));
    let unchanged = previous?.blob === entry.blob;
    for (const [path, blob] of Object.entries(previous?.dependencies ?? {})) {
      if (unchanged) unchanged = (await fileAt(path))?.blob === blob;
    }
    if (previous && unchanged) return previous;
    // A broken file keeps serving its last good entities; its errors say why it is not updated.
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
      return failed([oversizeProblem(entry.path, content.size)!]);
    }
    const dependencies: Record<string, string> = {};
    const parsed = await parseDescriptor({
      path: entry.path,
      content,
      readFile: async (path, maxBytes) => {
        const target = await fileAt(path);
        if (!target || target.mode === SYMLINK_MODE) return undefined;
        dependencies[path] = target.blob;
        return objects.read(target.blob, maxBytes);
      },
    });
    if (parsed.errors.length) return failed(parsed.errors);
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
    const owners = await store.owners(id, [...entities.keys(), ...dropped], {
      excluding: leaving ? url : undefined,
    });
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
