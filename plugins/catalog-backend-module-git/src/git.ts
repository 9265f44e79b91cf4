import { LoggerService } from '@backstage/backend-plugin-api';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join, relative, resolve as resolvePath } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { FileSize } from './descriptors';
import { CommandShell, holdWhileBusy } from './shell';
import { PackedObject, PackError, PackLimitError, parsePack } from './pack';
import {
  fetchObjects,
  fetchShallowPack,
  queryRef,
  RemoteHead,
  speaksProtocolOf,
  UploadPackError,
} from './protocol';

/** A file of a commit's tree, as `git ls-tree` lists it. */
export interface TreeEntry {
  path: string;
  /** Git's file mode: 100644 and 100755 are regular files, 120000 a symlink. */
  mode: string;
  blob: string;
}

export const SYMLINK_MODE = '120000';
const SUBMODULE_MODE = '160000';
const TREE_MODE = '40000';

/**
 * The server answered that the repository does not exist (or is not visible to us): unlike a timeout or
 * a refused connection, this is an answer about the repository.
 */
export class RepositoryNotFoundError extends Error {}

// What git prints when the server says there is no such repository: git daemon, smart HTTP (404),
// a local path, and the messages of GitHub's and GitLab's ssh servers.
const NOT_FOUND =
  /repository not exported|repository '.*' not found|does not appear to be a git repository|Repository not found|could not be found/i;

/** Transport failures where the server dropped the connection, as opposed to answering. */
const CONNECTION_DROPPED =
  /Connection reset by peer|early EOF|remote end hung up unexpectedly|Broken pipe/i;

/**
 * Packs of up to this size are read in memory by default: a repository's head, not its history, and
 * with a blob filter its trees alone. Objects may inflate to four times as much; sixteen fetches at once
 * then hold at most 320 MB.
 */
const DEFAULT_MAX_IN_MEMORY_PACK_BYTES = 4 * 1024 * 1024;
const INFLATION_ALLOWED = 4;

/**
 * A blob's content, or only its size when that is over the limit the caller gave (a lower bound when the
 * blob was too large to fetch into memory and the server's answer did not say how large).
 */
export type BlobContent = Buffer | FileSize;

/** What a blob that the limits of in-memory packs kept out is known to weigh; undefined for other errors. */
function oversizeBlob(error: unknown): FileSize | undefined {
  if (error instanceof PackLimitError) return { size: error.declaredBytes };
  if (error instanceof UploadPackError && error.limit) {
    const { maxBytes, firstObjectBytes } = error.limit;
    return firstObjectBytes === undefined
      ? { size: maxBytes, atLeast: true }
      : { size: firstObjectBytes };
  }
  return undefined;
}

/** An entry of a tree object. */
interface TreeObjectEntry {
  mode: string;
  name: string;
  id: string;
}

/** A tree object's entries, "<mode> <name>\0<binary id>" each. */
function parseTree(data: Buffer, hashBytes: number): TreeObjectEntry[] {
  const entries: TreeObjectEntry[] = [];
  for (let i = 0; i < data.length; ) {
    const space = data.indexOf(32, i);
    const nul = data.indexOf(0, space);
    entries.push({
      mode: data.toString('latin1', i, space),
      name: data.toString('utf8', space + 1, nul),
      id: data.toString('hex', nul + 1, nul + 1 + hashBytes),
    });
    i = nul + 1 + hashBytes;
  }
  return entries;
}

/** The files of fetched commits: trees listed, files found by path, blobs read within a size limit. */
export abstract class CommitReader {
  /** Bytes the server sent for a commit read in memory; undefined for one read from a mirror. */
  receivedBytes?: number;

  /** The blob's content, or its size alone when that is over `maxBytes`. */
  abstract read(blob: string, maxBytes: number): Promise<BlobContent>;

  /** Brings the blobs that are about to be read together, where reading each would cost a request. */
  async prefetch(_blobs: string[]): Promise<void> {}

  /** The entries of a tree, named by its id or as `<commit>^{tree}`; undefined when it is not a tree. */
  protected abstract readTree(
    tree: string,
    hashBytes: number,
  ): Promise<TreeObjectEntry[] | undefined>;

  /**
   * The files of `commit`'s tree, descending only into the directories (paths relative to the root) for
   * which `descend` holds. Submodules are left out.
   */
  async listTree(
    commit: string,
    descend: (directory: string) => boolean,
  ): Promise<TreeEntry[]> {
    const files: TreeEntry[] = [];
    const walk = async (tree: string, prefix: string) => {
      for (const entry of (await this.readTree(tree, commit.length / 2))!) {
        const path = prefix + entry.name;
        if (entry.mode === TREE_MODE) {
          if (descend(path)) await walk(entry.id, `${path}/`);
        } else if (entry.mode !== SUBMODULE_MODE) {
          files.push({ path, mode: entry.mode, blob: entry.id });
        }
      }
    };
    await walk(`${commit}^{tree}`, '');
    return files;
  }

  /** One file of `commit`, by path; undefined when there is none. */
  async entry(commit: string, path: string): Promise<TreeEntry | undefined> {
    const hashBytes = commit.length / 2;
    const directories = path.split('/');
    const name = directories.pop();
    let tree = `${commit}^{tree}`;
    for (const directory of directories) {
      const found = (await this.readTree(tree, hashBytes))?.find(
        e => e.name === directory,
      );
      if (found?.mode !== TREE_MODE) return undefined;
      tree = found.id;
    }
    const found = (await this.readTree(tree, hashBytes))?.find(
      e => e.name === name,
    );
    return found && found.mode !== TREE_MODE && found.mode !== SUBMODULE_MODE
      ? { path, mode: found.mode, blob: found.id }
      : undefined;
  }
}

/**
 * A commit fetched as one pack into memory, its objects parsed. When the pack left out blobs, those read
 * are fetched: those prefetched in one request, any other one by one.
 */
class PackSnapshot extends CommitReader {
  private readonly objects: Map<string, PackedObject>;
  receivedBytes: number;

  constructor(
    pack: Buffer,
    private readonly maxInflatedBytes: number,
    private readonly fetchMissing?: (ids: string[]) => Promise<Buffer>,
  ) {
    super();
    this.objects = parsePack(pack, maxInflatedBytes);
    this.receivedBytes = pack.length;
  }

  async prefetch(blobs: string[]): Promise<void> {
    const missing = [...new Set(blobs)].filter(id => !this.objects.has(id));
    if (missing.length < 2) return;
    try {
      await this.fetch(missing);
    } catch (error) {
      // Too large together: each is fetched when it is read, and one too large is told by its size then.
      if (!oversizeBlob(error)) throw error;
    }
  }

  async read(blob: string, maxBytes: number): Promise<BlobContent> {
    if (!this.objects.has(blob)) {
      try {
        await this.fetch([blob]);
      } catch (error) {
        // A blob too large to hold in memory is an answer about the file, not a failed fetch.
        const oversize = oversizeBlob(error);
        if (oversize && oversize.size > maxBytes) return oversize;
        throw error;
      }
    }
    const object = this.objects.get(blob);
    if (object?.type !== 'blob') {
      throw new Error(`${blob} is not a file of the fetched commit`);
    }
    return object.data.length > maxBytes
      ? { size: object.data.length }
      : object.data;
  }

  /** Adds the objects of `ids`, when the pack left them out and the server can send them. */
  private async fetch(ids: string[]) {
    if (!this.fetchMissing) return;
    const pack = await this.fetchMissing(ids);
    this.receivedBytes += pack.length;
    for (const [id, object] of parsePack(pack, this.maxInflatedBytes)) {
      this.objects.set(id, object);
    }
  }

  protected async readTree(tree: string, hashBytes: number) {
    let id = tree;
    if (tree.endsWith('^{tree}')) {
      const commit = this.objects.get(tree.slice(0, -'^{tree}'.length));
      if (commit?.type !== 'commit') return undefined;
      // A commit's first line is "tree <id>".
      id = commit.data.toString('latin1', 5, 5 + hashBytes * 2);
    }
    const object = this.objects.get(id);
    return object?.type === 'tree'
      ? parseTree(object.data, hashBytes)
      : undefined;
  }
}

/**
 * Reads objects of a mirror through one `git cat-file --batch-command` process: trees, and blobs whose size
 * is checked before their content is read. Answers come in the order of the commands.
 */
export class ObjectReader extends CommitReader {
  private readonly process;
  private buffered = Buffer.alloc(0);
  private readonly waiting: {
    parse: (data: Buffer) => { value: unknown; used: number } | undefined;
    resolve: (value: any) => void;
    reject: (error: Error) => void;
  }[] = [];
  private failure?: Error;

  constructor(mirror: string) {
    super();
    const child = spawn('git', ['cat-file', '--batch-command'], {
      cwd: mirror,
    });
    this.process = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.drain();
    });
    child.stdin.on('error', () => {});
    child.on('close', code => {
      const reason = stderr.trim().split('\n').pop() || `exit code ${code}`;
      this.fail(new Error(`git cat-file ended: ${reason}`));
    });
    child.on('error', error => this.fail(error));
  }

  isAlive(): boolean {
    return this.failure === undefined;
  }

  async read(blob: string, maxBytes: number): Promise<BlobContent> {
    const { type, size } = await this.info(blob);
    if (type !== 'blob') throw new Error(`${blob} is not a file (${type})`);
    if (size > maxBytes) return { size };
    return this.contents(blob, size);
  }

  protected async readTree(tree: string, hashBytes: number) {
    const { type, size } = await this.info(tree);
    if (type !== 'tree') return undefined;
    return parseTree(await this.contents(tree, size), hashBytes);
  }

  private info(object: string) {
    return this.request<{ id: string; type: string; size: number }>(
      `info ${object}`,
      data => {
        const end = data.indexOf(10);
        if (end < 0) return undefined;
        // "<oid> <type> <size>", or "<object> missing"
        const [id, type, bytes] = data.subarray(0, end).toString().split(' ');
        return { value: { id, type, size: Number(bytes) }, used: end + 1 };
      },
    );
  }

  private contents(object: string, size: number) {
    return this.request<Buffer>(`contents ${object}`, data => {
      const end = data.indexOf(10);
      if (end < 0) return undefined;
      const start = end + 1;
      // The header, the content, and a newline.
      if (data.length < start + size + 1) return undefined;
      return {
        value: Buffer.from(data.subarray(start, start + size)),
        used: start + size + 1,
      };
    });
  }

  close() {
    this.process.stdin.end();
  }

  private request<T>(
    command: string,
    parse: (data: Buffer) => { value: T; used: number } | undefined,
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ parse, resolve, reject });
      if (this.waiting.length === 1) holdWhileBusy(this.process, true);
      this.process.stdin.write(`${command}\n`);
    });
  }

  private drain() {
    while (this.waiting.length) {
      const next = this.waiting[0];
      let answer;
      try {
        answer = next.parse(this.buffered);
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (!answer) return;
      this.waiting.shift();
      this.buffered = this.buffered.subarray(answer.used);
      next.resolve(answer.value);
    }
    holdWhileBusy(this.process, false);
  }

  private fail(error: Error) {
    this.failure ??= error;
    for (const waiting of this.waiting.splice(0)) waiting.reject(error);
    this.process.kill();
  }
}

/**
 * Plain `git`, so that any server works: https (with a token), ssh, git:// and file URLs.
 * Each remote gets a bare mirror of its branch head under `cacheDir`, fetched shallowly. Callers hold
 * the cache (`holdCache`) while they fetch and read, and it is removed when the last of them is done.
 */
export class GitCli {
  /** Shells that start fetches, with and without the token in their environment. */
  private readonly shells = new Map<boolean, CommandShell>();
  private reader?: Promise<ObjectReader>;
  /** Remotes whose pack was too large to hold, or that cannot send it over protocol v2. */
  private readonly fetchedByGit = new Set<string>();
  /** The latest fetch into each remote's mirror, which the next one waits for. */
  private readonly lastFetchOf = new Map<string, Promise<unknown>>();
  private cacheHolders = 0;
  private removingCache?: Promise<void>;

  constructor(
    private readonly options: {
      cacheDir: string;
      timeoutMs: number;
      /** A token for https remotes, sent as HTTP basic auth; never written to disk. */
      token?: string;
      /** Packs of up to this size are read in memory; larger ones are fetched by git into a mirror. */
      maxPackBytes?: number;
      /** Told when the cache cannot be removed, which fails nothing else. */
      logger?: LoggerService;
    },
  ) {}

  /**
   * The commit the remote's branch (or HEAD) points at, and the branch's name (for HEAD, the branch it
   * points at). Throws when the remote cannot answer; `RepositoryNotFoundError` when it says it has no
   * such repository.
   */
  async headCommit(
    url: string,
    branch?: string,
  ): Promise<{ commit: string; branch: string }> {
    const ref = remoteRef(branch);
    const head = await this.queryRef(url, ref);
    if (!head) throw new Error(`${url} has no ${describeRef(branch)}`);
    const symref = head.symref?.startsWith('refs/heads/')
      ? head.symref.slice('refs/heads/'.length)
      : undefined;
    return { commit: head.commit, branch: branch ?? symref ?? 'HEAD' };
  }

  /**
   * git:// and smart HTTP servers are asked in-process (protocol v2 ls-refs, HTTP connections kept
   * alive): no process to spawn per repository and sync. Other remotes go through `git ls-remote`.
   */
  private async queryRef(
    url: string,
    ref: string,
  ): Promise<RemoteHead | undefined> {
    if (!speaksProtocolOf(url)) return this.lsRemote(url, ref);
    try {
      return await queryRef(url, ref, this.remoteOptions(url));
    } catch (error) {
      if (
        error instanceof UploadPackError &&
        error.answer === 'not-smart-http'
      ) {
        return this.lsRemote(url, ref);
      }
      throw inProcessError('ls-refs', error);
    }
  }

  private remoteOptions(url: string) {
    return {
      timeoutMs: this.options.timeoutMs,
      authorization: this.authorization(url),
    };
  }

  /**
   * The head commit of the branch (or HEAD) and a reader of its files. git:// and smart HTTP servers
   * send it as one shallow pack, read in memory without spawning git, unless it is larger than
   * `maxPackBytes` or the server cannot: then, and for other remotes, `git fetch` fetches it into the
   * mirror, and the remote is fetched that way from then on.
   */
  async fetchSnapshot(
    url: string,
    branch?: string,
  ): Promise<{ commit: string; files: CommitReader }> {
    if (speaksProtocolOf(url) && !this.fetchedByGit.has(url)) {
      try {
        const options = {
          ...this.remoteOptions(url),
          maxBytes:
            this.options.maxPackBytes ?? DEFAULT_MAX_IN_MEMORY_PACK_BYTES,
        };
        const fetched = await retryIfDropped(
          () => fetchShallowPack(url, remoteRef(branch), options),
          droppedInProcess,
        );
        if (!fetched) throw new Error(`${url} has no ${describeRef(branch)}`);
        const fetchBlobs = (ids: string[]) =>
          retryIfDropped(
            () => fetchObjects(url, ids, options),
            droppedInProcess,
          ).catch(error => {
            throw oversizeBlob(error) ? error : inProcessError('fetch', error);
          });
        return {
          commit: fetched.head.commit,
          files: new PackSnapshot(
            fetched.pack,
            options.maxBytes * INFLATION_ALLOWED,
            fetched.filtered ? fetchBlobs : undefined,
          ),
        };
      } catch (error) {
        const gitCanFetch =
          error instanceof PackError ||
          (error instanceof UploadPackError &&
            ['unsupported', 'too-large', 'not-smart-http'].includes(
              error.answer ?? '',
            ));
        if (!gitCanFetch) throw inProcessError('fetch', error);
        this.fetchedByGit.add(url);
      }
    }
    const { commit } = await this.fetchHead(url, branch);
    return { commit, files: await this.objects() };
  }

  private async lsRemote(
    url: string,
    ref: string,
  ): Promise<RemoteHead | undefined> {
    const output = await this.git(
      ['ls-remote', '--symref', '--', url, ref],
      url,
    );
    const lines = output.split('\n');
    const line = lines.find(
      l => l.endsWith(`\t${ref}`) && !l.startsWith('ref:'),
    );
    if (!line) return undefined;
    const symref = lines
      .find(l => l.startsWith('ref: ') && l.endsWith('\tHEAD'))
      ?.slice('ref: '.length, -'\tHEAD'.length);
    return { commit: line.split('\t')[0], symref };
  }

  /**
   * Fetches the branch head (depth 1) into the local mirror of `url`. Returns the mirror's directory and
   * the commit fetched, which is newer than the one ls-remote saw if the branch moved in between. The
   * fetch is started by a long-lived shell, not by the backend itself. Fetches of one remote wait for each
   * other, as git takes one at a time in a repository (TechDocs builds several entities of one at once).
   */
  fetchHead(
    url: string,
    branch?: string,
  ): Promise<{ mirror: string; commit: string }> {
    const previous = this.lastFetchOf.get(url) ?? Promise.resolve();
    const fetched = previous
      .catch(() => undefined)
      .then(() => this.fetchHeadNow(url, branch));
    this.lastFetchOf.set(url, fetched);
    const forget = () => {
      if (this.lastFetchOf.get(url) === fetched) this.lastFetchOf.delete(url);
    };
    fetched.then(forget, forget);
    return fetched;
  }

  private async fetchHeadNow(url: string, branch?: string) {
    const mirror = await this.mirrorOf(url);
    const errorFile = join(mirror, 'fetch.err');
    const authorized = this.authorization(url) !== undefined;
    let shell = this.shells.get(authorized);
    if (!shell) {
      shell = new CommandShell(this.environment(authorized ? url : undefined));
      this.shells.set(authorized, shell);
    }
    const fetchShell = shell;
    const run = () =>
      fetchShell.run({
        command: 'git',
        args: fetchArguments(url, branch),
        cwd: mirror,
        errorFile,
        timeoutSeconds: Math.ceil(this.options.timeoutMs / 1000),
      });
    let stderr = '';
    let timedOut = false;
    let staleLockRemoved = false;
    await retryIfDropped(
      async () => {
        const code = await run();
        if (code === 0) return;
        stderr = await readFile(errorFile, 'utf8').catch(() => '');
        timedOut = code === 124;
        staleLockRemoved = await this.removeStaleLock(stderr);
        throw gitError('git fetch', stderr, timedOut, this.options.timeoutMs);
      },
      () => staleLockRemoved || (!timedOut && CONNECTION_DROPPED.test(stderr)),
    );
    // "<commit>\t\t<description>"
    const fetchHead = await readFile(join(mirror, 'FETCH_HEAD'), 'utf8');
    return { mirror, commit: fetchHead.slice(0, fetchHead.indexOf('\t')) };
  }

  /**
   * Removes the lock file git names in `stderr` when it is older than any fetch of ours may run: a git
   * that was killed (SIGKILL, a crash) leaves it, and every later fetch into the mirror would fail.
   */
  private async removeStaleLock(stderr: string): Promise<boolean> {
    const lock = /Unable to create '(.+\.lock)': File exists/.exec(stderr)?.[1];
    if (!lock?.startsWith(resolvePath(this.options.cacheDir))) return false;
    const modified = await stat(lock).then(
      ({ mtimeMs }) => mtimeMs,
      () => undefined,
    );
    if (modified === undefined) return true; // released meanwhile
    if (Date.now() - modified <= this.options.timeoutMs) return false;
    await rm(lock, { force: true });
    return true;
  }

  /**
   * Keeps the cache until the returned function is called. The mirrors have no refs, so git sends each
   * fetch's commit whole and never repacks: kept, the cache would grow by every commit fetched. Nothing
   * in it is needed once read, so it is removed when its last holder lets go.
   */
  async holdCache(): Promise<() => Promise<void>> {
    while (this.removingCache) await this.removingCache;
    this.cacheHolders++;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.cacheHolders > 0) return;
      this.removingCache = this.removeCache().finally(() => {
        this.removingCache = undefined;
      });
      await this.removingCache;
    };
  }

  /** Runs `work`, which fetches and reads, holding the cache until it is done. */
  async withCache<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.holdCache();
    try {
      return await work();
    } finally {
      await release();
    }
  }

  private async removeCache() {
    const reader = this.reader;
    this.reader = undefined;
    (await reader?.catch(() => undefined))?.close();
    await rm(this.options.cacheDir, { recursive: true, force: true }).catch(
      error =>
        this.options.logger?.warn(
          `Could not remove the Git cache ${this.options.cacheDir}: ${error}`,
        ),
    );
  }

  /**
   * One `git cat-file` process for every mirror, as they share one object store: trees, and blobs whose
   * size is checked before their content is read. It is restarted when it ends. Concurrent callers share
   * one start: two would write the same repository's files while the other's git reads them.
   */
  async objects(): Promise<ObjectReader> {
    for (;;) {
      const starting = (this.reader ??= this.repositoryOverSharedObjects(
        'objects-reader',
      ).then(directory => new ObjectReader(directory)));
      const forget = () => {
        if (this.reader === starting) this.reader = undefined;
      };
      const reader = await starting.catch(error => {
        forget();
        throw error;
      });
      if (reader.isAlive()) return reader;
      forget();
    }
  }

  /**
   * The bare mirror of `url`, created when missing: what `git init --bare` writes that git needs, without
   * a process, with `objects` pointing at the store all mirrors share. Only fetched into and read, so no
   * hooks or samples; HEAD last, as it marks the mirror complete.
   */
  private mirrorOf(url: string): Promise<string> {
    return this.repositoryOverSharedObjects(
      join(
        'mirrors',
        createHash('sha256').update(url).digest('hex').slice(0, 24),
      ),
    );
  }

  /** A bare repository at `name` under the cache directory whose objects are the shared store. */
  private async repositoryOverSharedObjects(name: string): Promise<string> {
    const { cacheDir } = this.options;
    const directory = join(cacheDir, name);
    if (!(await exists(join(directory, 'HEAD')))) {
      await mkdir(join(cacheDir, 'objects'), { recursive: true });
      await createBareRepository(
        directory,
        relative(directory, join(cacheDir, 'objects')),
      );
    }
    return directory;
  }

  /**
   * The files under `path` at `commit`, as a tar stream (paths relative to the repository root). It fails
   * with git's message when git does, rather than ending as an empty archive.
   */
  archive(mirror: string, commit: string, path: string): Readable {
    const child = spawn(
      'git',
      ['archive', '--format=tar', commit, ...(path ? ['--', path] : [])],
      {
        cwd: mirror,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: this.options.timeoutMs,
      },
    );
    // Node drops what a child wrote to a pipe that nobody reads when the child exits, and a small
    // archive is written before the caller starts reading: the PassThrough keeps it until then.
    const archive = new PassThrough();
    child.stdout.pipe(archive, { end: false });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.on('error', error => archive.destroy(error));
    child.on('close', (code, signal) => {
      if (code === 0) {
        archive.end();
      } else {
        archive.destroy(
          gitError(
            'git archive',
            stderr,
            signal !== null,
            this.options.timeoutMs,
          ),
        );
      }
    });
    return archive;
  }

  /** Runs git with `remote`'s environment; resolves to its output. */
  private git(args: string[], remote: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      execFile(
        'git',
        args,
        {
          encoding: 'utf8',
          timeout: this.options.timeoutMs,
          maxBuffer: 256 * 1024 * 1024,
          env: this.environment(remote),
        },
        (error, stdout, stderr) => {
          if (error) {
            reject(
              gitError(
                `git ${args[0]}`,
                String(stderr),
                Boolean(error.killed),
                this.options.timeoutMs,
              ),
            );
          } else {
            resolve(stdout);
          }
        },
      );
    });
  }

  private environment(remote?: string): NodeJS.ProcessEnv {
    return {
      ...process.env,
      // Never wait for a password prompt or an unknown ssh host key.
      GIT_TERMINAL_PROMPT: '0',
      GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
      ...this.authEnvironment(remote),
    };
  }

  /**
   * The token as an HTTP header, through git's environment configuration so that it appears neither on
   * a command line nor in an error message.
   */
  private authEnvironment(remote?: string): Record<string, string> {
    const authorization = this.authorization(remote);
    if (!authorization) return {};
    return {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: ${authorization}`,
    };
  }

  /** The token as HTTP basic auth, only over https or plain http to this machine itself. */
  private authorization(remote?: string): string | undefined {
    const encrypted = remote?.startsWith('https://');
    const loopback = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(
      remote ?? '',
    );
    if (!this.options.token || !(encrypted || loopback)) return undefined;
    const credentials = Buffer.from(
      `x-access-token:${this.options.token}`,
    ).toString('base64');
    return `Basic ${credentials}`;
  }
}

/** A bare repository that git accepts, written directly; `objects` is a link to a shared store. */
async function createBareRepository(directory: string, objects: string) {
  await mkdir(join(directory, 'refs'), { recursive: true });
  await symlink(objects, join(directory, 'objects')).catch(error => {
    if (error.code !== 'EEXIST') throw error;
  });
  await writeFile(
    join(directory, 'config'),
    '[core]\n\trepositoryformatversion = 0\n\tbare = true\n',
  );
  await writeFile(join(directory, 'HEAD'), 'ref: refs/heads/main\n');
}

/**
 * A server under load drops some connections; one more try, after a short pause, spares the repository a
 * whole schedule interval of waiting.
 */
async function retryIfDropped<T>(
  attempt: () => Promise<T>,
  dropped: (error: unknown) => boolean,
): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!dropped(error)) throw error;
    await new Promise(resolve =>
      setTimeout(resolve, 200 + Math.random() * 800),
    );
    return attempt();
  }
}

/** A connection of our own that the server reset or closed before answering. */
function droppedInProcess(error: unknown): boolean {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  return (
    ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(
      code ?? cause?.code ?? '',
    ) ||
    (error instanceof UploadPackError &&
      error.message === 'the server closed the connection')
  );
}

/** A failed in-process exchange in our own words: never the request, which may carry the token. */
function inProcessError(exchange: string, error: unknown): Error {
  const reason =
    error instanceof Error
      ? (error.cause as Error | undefined)?.message ?? error.message
      : String(error);
  const message = `${exchange} failed: ${reason}`;
  return error instanceof UploadPackError && error.answer === 'not-found'
    ? new RepositoryNotFoundError(message)
    : new Error(message);
}

/** A failed git command in our own words: not Node's message, which repeats the command line. */
function gitError(
  command: string,
  stderr: string,
  killed: boolean,
  timeoutMs: number,
): Error {
  // git's own verdict ("fatal: …", "error: …", "ERROR: …" from ssh servers), not the advice after it.
  const lines = stderr.trim().split('\n');
  const reason = killed
    ? `timed out after ${timeoutMs / 1000}s`
    : lines.find(line => /^(fatal|error):/i.test(line)) ||
      lines.pop() ||
      'it failed';
  const message = `${command} failed: ${reason}`;
  return NOT_FOUND.test(stderr)
    ? new RepositoryNotFoundError(message)
    : new Error(message);
}

/** `git fetch` of the branch head alone, shallow, into FETCH_HEAD. */
function fetchArguments(url: string, branch?: string) {
  return [
    'fetch',
    '--quiet',
    '--depth=1',
    '--no-tags',
    '--no-auto-maintenance',
    '--no-recurse-submodules',
    '--',
    url,
    remoteRef(branch),
  ];
}

function describeRef(branch?: string) {
  return branch ? `branch ${branch}` : 'HEAD';
}

/** The ref to read: the branch, or the remote's HEAD. */
function remoteRef(branch?: string) {
  return branch ? `refs/heads/${branch}` : 'HEAD';
}

async function exists(path: string) {
  return stat(path).then(
    () => true,
    () => false,
  );
}
