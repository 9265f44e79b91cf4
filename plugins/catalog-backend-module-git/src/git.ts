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
    const ref = remoteRef(branch);
    const output = await this.git(['ls-remote', '--', url, ref], {
      remote: url,
    });
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
    const ref = remoteRef(branch);
    await this.git(
      ['fetch', '--quiet', '--depth=1', '--no-tags', '--', url, ref],
      {
        cwd: mirror,
        remote: url,
      },
    );
    const commit = (
      await this.git(['rev-parse', 'FETCH_HEAD'], { cwd: mirror })
    ).trim();
    return { mirror, commit };
  }

  async listTree(mirror: string, commit: string): Promise<TreeEntry[]> {
    const output = await this.git(
      ['ls-tree', '-r', '-z', '--full-tree', commit],
      {
        cwd: mirror,
      },
    );
    return output
      .split('\0')
      .filter(Boolean)
      .map(record => {
        // "<mode> <type> <blob>\t<path>"; the path may itself hold tabs.
        const tab = record.indexOf('\t');
        const [mode, type, blob] = record.slice(0, tab).split(' ');
        return { mode, type, blob, path: record.slice(tab + 1) };
      })
      .filter(entry => entry.type === 'blob')
      .map(({ mode, blob, path }) => ({ mode, blob, path }));
  }

  async readBlob(mirror: string, blob: string): Promise<Buffer> {
    return this.git(['cat-file', 'blob', blob], {
      cwd: mirror,
      encoding: 'buffer',
    });
  }

  async blobSize(mirror: string, blob: string): Promise<number> {
    return Number(
      (await this.git(['cat-file', '-s', blob], { cwd: mirror })).trim(),
    );
  }

  private git(
    args: string[],
    options?: { cwd?: string; remote?: string },
  ): Promise<string>;
  private git(
    args: string[],
    options: { cwd?: string; remote?: string; encoding: 'buffer' },
  ): Promise<Buffer>;
  private git(
    args: string[],
    options: { cwd?: string; remote?: string; encoding?: 'buffer' } = {},
  ) {
    const { cwd, remote, encoding = 'utf8' } = options;
    return new Promise<string | Buffer>((resolve, reject) => {
      execFile(
        'git',
        args,
        {
          cwd,
          encoding,
          timeout: this.options.timeoutMs,
          maxBuffer: 256 * 1024 * 1024,
          env: {
            ...process.env,
            // Never wait for a password prompt or an unknown ssh host key.
            GIT_TERMINAL_PROMPT: '0',
            GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
            ...this.authEnvironment(remote),
          },
        },
        (error, stdout, stderr) => {
          if (!error) {
            resolve(stdout);
            return;
          }
          // Our own words, not Node's message, which repeats the command line.
          const reason = error.killed
            ? `timed out after ${this.options.timeoutMs / 1000}s`
            : String(stderr).trim().split('\n').pop() ||
              `exit code ${error.code}`;
          reject(new Error(`git ${args[0]} failed: ${reason}`));
        },
      );
    });
  }

  /**
   * The token as an HTTP header, through git's environment configuration so that it appears neither on
   * a command line nor in an error message. Only over https, or plain http to this machine itself.
   */
  private authEnvironment(remote?: string): Record<string, string> {
    const encrypted = remote?.startsWith('https://');
    const loopback = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(
      remote ?? '',
    );
    if (!this.options.token || !(encrypted || loopback)) return {};
    const credentials = Buffer.from(
      `x-access-token:${this.options.token}`,
    ).toString('base64');
    return {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${credentials}`,
    };
  }
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
