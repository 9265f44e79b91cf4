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
import { posix } from 'node:path';
import { GitIngestionStore, StoredFile } from './DatabaseGitIngestionStore';
import { DescriptorError, parseDescriptor } from './descriptors';
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

  constructor(
    private readonly settings: GitProviderSettings,
    private readonly deps: {
      git: GitCli;
      store: GitIngestionStore;
      logger: LoggerService;
      taskRunner: SchedulerServiceTaskRunner;
    },
  ) {}

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

    const configured = new Set(repositories);
    for (const known of await this.deps.store.listRepositories(id)) {
      if (!configured.has(known.url)) {
        await this.removeRepository(connection, known.url);
      }
    }
    for (const url of repositories) {
      await this.syncRepository(connection, url);
    }
  }

  private async syncRepository(
    connection: EntityProviderConnection,
    url: string,
  ) {
    const { id, branch } = this.settings;
    const { git, store, logger } = this.deps;
    const known = (await store.listRepositories(id)).find(r => r.url === url);
    try {
      const head = await git.headCommit(url, branch);
      if (head === known?.syncedCommit) {
        await store.saveUnchanged(id, url);
        return;
      }
      const { mirror, commit } = await git.fetchHead(url, branch);
      const tree = await git.listTree(mirror, commit);
      const previous = new Map(
        (await store.listFiles(id, url)).map(file => [file.path, file]),
      );
      const files: StoredFile[] = [];
      for (const entry of tree.filter(e => this.isDescriptor(e.path))) {
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
      await store.saveSync(id, url, commit, files);
      await connection.applyMutation({
        type: 'delta',
        added: files
          .flatMap(file => file.entities)
          .map(entity => ({
            entity,
            locationKey: this.locationKey(url),
          })),
        removed: removedRefs([...previous.values()], files).map(entityRef => ({
          entityRef,
          locationKey: this.locationKey(url),
        })),
      });
      const problems = files.flatMap(f => f.errors);
      for (const problem of problems) {
        logger.warn(
          `${url} ${problem.file}${problem.line ? `:${problem.line}` : ''}: ${
            problem.message
          }`,
        );
      }
    } catch (error) {
      // Nothing is removed: the server did not give a complete answer.
      logger.warn(
        `Git ingestion of ${url} failed, keeping what was ingested: ${error}`,
      );
      await store.saveFailure(
        id,
        url,
        String((error as Error).message ?? error),
      );
    }
  }

  private async readFile(
    url: string,
    mirror: string,
    commit: string,
    entry: TreeEntry,
    tree: TreeEntry[],
    previous: StoredFile | undefined,
  ): Promise<StoredFile> {
    const { git } = this.deps;
    if (previous && previous.blob === entry.blob) {
      return this.withCommit(previous, url, commit);
    }
    // A broken file keeps serving its last good entities; its errors say why it is not updated.
    const failed = (errors: DescriptorError[]): StoredFile => ({
      path: entry.path,
      blob: entry.blob,
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
    const regularFiles = new Map(
      tree.filter(e => e.mode !== SYMLINK_MODE).map(e => [e.path, e.blob]),
    );
    const parsed = await parseDescriptor({
      path: entry.path,
      content: await git.readBlob(mirror, entry.blob),
      readFile: async path => {
        const blob = regularFiles.get(path);
        return blob ? git.readBlob(mirror, blob) : undefined;
      },
    });
    if (parsed.errors.length) {
      return failed(parsed.errors);
    }
    return this.withCommit(
      {
        path: entry.path,
        blob: entry.blob,
        entities: parsed.entities,
        errors: [],
      },
      url,
      commit,
    );
  }

  /** Adds where each entity came from: the location annotations and the commit it was read at. */
  private withCommit(
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
      removed: removedRefs(files, []).map(entityRef => ({
        entityRef,
        locationKey: this.locationKey(url),
      })),
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

/** Refs that `before` held and `after` no longer does. */
function removedRefs(before: StoredFile[], after: StoredFile[]): string[] {
  const kept = entityRefs(after);
  return [...entityRefs(before)].filter(ref => !kept.has(ref));
}
