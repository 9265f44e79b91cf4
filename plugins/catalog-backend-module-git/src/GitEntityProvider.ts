import {
  LoggerService,
  SchedulerServiceTaskRunner,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  ANNOTATION_ORIGIN_LOCATION,
  ANNOTATION_SOURCE_LOCATION,
  Entity,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import {
  EntityProvider,
  EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import { minimatch } from 'minimatch';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import {
  GitIngestionStore,
  RepositoryStatus,
  StoredFile,
} from './DatabaseGitIngestionStore';
import {
  DescriptorError,
  oversizeProblem,
  parseDescriptor,
} from './descriptors';
import { GitCli, SYMLINK_MODE, TreeEntry } from './git';

export const ANNOTATION_GIT_COMMIT = 'portico.dev/git-commit';

export interface GitProviderSettings {
  id: string;
  /** Remote URLs, without credentials. */
  repositories: string[];
  branch?: string;
  files: string[];
}

/**
 * Ingests descriptor files from Git repositories. Only a complete answer about a repository changes what
 * came from it: an unreachable server or a failed fetch leaves its entities as they were, and a file that
 * stops parsing keeps its last good entities while its error is recorded.
 */
export class GitEntityProvider implements EntityProvider {
  private connection?: EntityProviderConnection;
  /** A repository is read again when these change, even at the same commit. */
  private readonly settingsHash: string;

  constructor(
    private readonly settings: GitProviderSettings,
    private readonly deps: {
      git: GitCli;
      store: GitIngestionStore;
      logger: LoggerService;
      taskRunner: SchedulerServiceTaskRunner;
    },
  ) {
    const { branch, files } = settings;
    this.settingsHash = createHash('sha256')
      .update(JSON.stringify({ branch, files }))
      .digest('hex');
  }

  getProviderName(): string {
    return `portico-git:${this.settings.id}`;
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    await this.deps.taskRunner.run({
      id: `${this.getProviderName()}:sync`,
      fn: () => this.sync(),
    });
  }

  /** One pass over every configured repository. */
  async sync(): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('GitEntityProvider is not connected');
    const { id, repositories } = this.settings;

    const known = new Map(
      (await this.deps.store.listRepositories(id)).map(r => [r.url, r]),
    );
    const configured = new Set(repositories);
    for (const url of known.keys()) {
      if (!configured.has(url)) {
        await this.removeRepository(connection, url);
      }
    }
    for (const url of repositories) {
      await this.syncRepository(connection, url, known.get(url));
    }
  }

  private async syncRepository(
    connection: EntityProviderConnection,
    url: string,
    known: RepositoryStatus | undefined,
  ) {
    const { id, branch } = this.settings;
    const { git, store, logger } = this.deps;
    try {
      const head = await git.headCommit(url, branch);
      if (
        head === known?.syncedCommit &&
        this.settingsHash === known.syncedSettings
      ) {
        await store.saveUnchanged(id, url);
        return;
      }
      const { mirror, commit } = await git.fetchHead(url, branch);
      const tree = new Map(
        (await git.listTree(mirror, commit)).map(entry => [entry.path, entry]),
      );
      const previous = new Map(
        (await store.listFiles(id, url)).map(file => [file.path, file]),
      );
      const files: StoredFile[] = [];
      for (const entry of tree.values()) {
        if (this.isDescriptor(entry.path)) {
          files.push(
            await this.readFile(
              url,
              mirror,
              commit,
              entry,
              tree,
              previous.get(entry.path),
            ),
          );
        }
      }
      // The catalog first, then our record of it: if the mutation fails, the next sync redoes it.
      await connection.applyMutation({
        type: 'delta',
        added: files
          .flatMap(file => file.entities)
          .map(entity => ({ entity, locationKey: this.locationKey(url) })),
        removed: await this.refsToRemove(url, [...previous.values()], files),
      });
      await store.saveSync(
        id,
        url,
        { commit, settings: this.settingsHash },
        files,
      );
      for (const problem of files.flatMap(f => f.errors)) {
        const where = problem.line
          ? `${problem.file}:${problem.line}`
          : problem.file;
        logger.warn(`${url} ${where}: ${problem.message}`);
      }
    } catch (error) {
      // Nothing is removed: the server did not give a complete answer.
      const message = error instanceof Error ? error.message : String(error);
      logger.warn(
        `Git ingestion of ${url} failed, keeping what was ingested: ${message}`,
      );
      await store.saveFailure(id, url, message);
    }
  }

  private async readFile(
    url: string,
    mirror: string,
    commit: string,
    entry: TreeEntry,
    tree: Map<string, TreeEntry>,
    previous: StoredFile | undefined,
  ): Promise<StoredFile> {
    const { git } = this.deps;
    const unchanged =
      previous?.blob === entry.blob &&
      Object.entries(previous.dependencies).every(
        ([path, blob]) => tree.get(path)?.blob === blob,
      );
    if (previous && unchanged) {
      return this.withOrigin(previous, url, commit);
    }
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
    const tooLarge = oversizeProblem(
      entry.path,
      await git.blobSize(mirror, entry.blob),
    );
    if (tooLarge) {
      return failed([tooLarge]);
    }
    const dependencies: Record<string, string> = {};
    const parsed = await parseDescriptor({
      path: entry.path,
      content: await git.readBlob(mirror, entry.blob),
      readFile: async path => {
        const target = tree.get(path);
        if (!target || target.mode === SYMLINK_MODE) return undefined;
        dependencies[path] = target.blob;
        return git.readBlob(mirror, target.blob);
      },
    });
    if (parsed.errors.length) {
      return failed(parsed.errors);
    }
    return this.withOrigin(
      {
        path: entry.path,
        blob: entry.blob,
        dependencies,
        entities: parsed.entities,
        errors: [],
      },
      url,
      commit,
    );
  }

  /**
   * Refs that the repository's files no longer define. A ref that another repository of this provider
   * still defines is kept: the catalog does not tell removals apart by repository.
   */
  private async refsToRemove(
    url: string,
    before: StoredFile[],
    after: StoredFile[],
  ) {
    const kept = entityRefs(after);
    const dropped = [...entityRefs(before)].filter(ref => !kept.has(ref));
    if (dropped.length === 0) return [];
    // Only then read the other repositories' files: most changes drop nothing.
    const elsewhere = entityRefs(
      (await this.deps.store.listFiles(this.settings.id)).filter(
        f => f.url !== url,
      ),
    );
    return dropped
      .filter(ref => !elsewhere.has(ref))
      .map(entityRef => ({ entityRef, locationKey: this.locationKey(url) }));
  }

  /** Adds where each entity came from: the location annotations and the commit it was read at. */
  private withOrigin(
    file: StoredFile,
    url: string,
    commit: string,
  ): StoredFile {
    const location = `url:${url}#${file.path}`;
    const source = `url:${url}#${posix.dirname(file.path)}`;
    return {
      ...file,
      entities: file.entities.map(entity => ({
        ...entity,
        metadata: {
          ...entity.metadata,
          annotations: {
            ...entity.metadata.annotations,
            [ANNOTATION_LOCATION]: location,
            [ANNOTATION_ORIGIN_LOCATION]: location,
            [ANNOTATION_SOURCE_LOCATION]:
              entity.metadata.annotations?.[ANNOTATION_SOURCE_LOCATION] ??
              source,
            [ANNOTATION_GIT_COMMIT]: commit,
          },
        },
      })),
    };
  }

  private async removeRepository(
    connection: EntityProviderConnection,
    url: string,
  ) {
    const files = await this.deps.store.listFiles(this.settings.id, url);
    await connection.applyMutation({
      type: 'delta',
      added: [],
      removed: await this.refsToRemove(url, files, []),
    });
    await this.deps.store.removeRepository(this.settings.id, url);
  }

  private isDescriptor(path: string) {
    return this.settings.files.some(pattern =>
      minimatch(path, pattern, { dot: true }),
    );
  }

  private locationKey(url: string) {
    return `${this.getProviderName()}:${url}`;
  }
}

function entityRefs(files: StoredFile[]): Set<string> {
  return new Set(
    files.flatMap(f => f.entities.map((e: Entity) => stringifyEntityRef(e))),
  );
}
