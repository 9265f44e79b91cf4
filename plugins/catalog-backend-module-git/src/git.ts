import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A file of a commit's tree, as `git ls-tree` lists it. */
export interface TreeEntry {
  path: string;
  /** Git's file mode: 100644 and 100755 are regular files, 120000 a symlink. */
  mode: string;
  blob: string;
}

export const SYMLINK_MODE = '120000';

/**
 * Plain `git`, so that any server works: https (with a token), ssh, git:// and file URLs.
 * Each remote gets a bare mirror of its branch head under `cacheDir`, fetched shallowly.
 */
export class GitCli {
  constructor(
    private readonly options: {
      cacheDir: string;
      timeoutMs: number;
      /** A token for https remotes, sent as HTTP basic auth; never written to disk. */
      token?: string;
    },
  ) {}

  /** The commit the remote's branch (or HEAD) points at; throws when the remote cannot answer. */
  async headCommit(url: string, branch?: string): Promise<string> {
    const ref = branch ? `refs/heads/${branch}` : 'HEAD';
    const output = await this.git(['ls-remote', '--', url, ref]);
    const line = output.split('\n').find(l => l.endsWith(`\t${ref}`));
    if (!line) {
      throw new Error(`${url} has no ${branch ? `branch ${branch}` : 'HEAD'}`);
    }
    return line.split('\t')[0];
  }

  /**
   * Fetches the branch head (depth 1) into the local mirror of `url`. Returns the mirror's directory and
   * the commit fetched, which is newer than the one ls-remote saw if the branch moved in between.
   */
  async fetchHead(
    url: string,
    branch?: string,
  ): Promise<{ mirror: string; commit: string }> {
    const mirror = join(
      this.options.cacheDir,
      createHash('sha256').update(url).digest('hex').slice(0, 24),
    );
    if (!(await exists(join(mirror, 'HEAD')))) {
      await mkdir(mirror, { recursive: true });
      await this.git(['init', '--quiet', '--bare', mirror]);
    }
    const ref = branch ? `refs/heads/${branch}` : 'HEAD';
    await this.git(
      ['fetch', '--quiet', '--depth=1', '--no-tags', '--', url, ref],
      mirror,
    );
    const commit = (await this.git(['rev-parse', 'FETCH_HEAD'], mirror)).trim();
    return { mirror, commit };
  }

  async listTree(mirror: string, commit: string): Promise<TreeEntry[]> {
    const output = await this.git(
      ['ls-tree', '-r', '-z', '--full-tree', commit],
      mirror,
    );
    return output
      .split('\0')
      .filter(Boolean)
      .map(record => {
        const [meta, path] = record.split('\t');
        const [mode, type, blob] = meta.split(' ');
        return { mode, type, blob, path };
      })
      .filter(entry => entry.type === 'blob')
      .map(({ mode, blob, path }) => ({ mode, blob, path }));
  }

  async readBlob(mirror: string, blob: string): Promise<Buffer> {
    return this.git(['cat-file', 'blob', blob], mirror, 'buffer');
  }

  private git(args: string[], cwd?: string): Promise<string>;
  private git(args: string[], cwd: string, encoding: 'buffer'): Promise<Buffer>;
  private git(
    args: string[],
    cwd?: string,
    encoding: 'utf8' | 'buffer' = 'utf8',
  ) {
    const auth = this.options.token
      ? [
          '-c',
          `http.extraHeader=Authorization: Basic ${Buffer.from(
            `x-access-token:${this.options.token}`,
          ).toString('base64')}`,
        ]
      : [];
    return new Promise<string | Buffer>((resolve, reject) => {
      execFile(
        'git',
        [...auth, ...args],
        {
          cwd,
          encoding,
          timeout: this.options.timeoutMs,
          maxBuffer: 256 * 1024 * 1024,
          // Never wait for a password prompt or an unknown ssh host key.
          env: {
            ...process.env,
            GIT_TERMINAL_PROMPT: '0',
            GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
          },
        },
        (error, stdout, stderr) => {
          if (error) {
            const reason =
              String(stderr).trim().split('\n').pop() || error.message;
            reject(new Error(`git ${args[0]} failed: ${reason}`));
          } else {
            resolve(stdout);
          }
        },
      );
    });
  }
}

async function exists(path: string) {
  return stat(path).then(
    () => true,
    () => false,
  );
}
