import {
  UrlReaderService,
  UrlReaderServiceReadTreeOptions,
  UrlReaderServiceReadTreeResponse,
  UrlReaderServiceReadUrlOptions,
  UrlReaderServiceReadUrlResponse,
  UrlReaderServiceSearchOptions,
  UrlReaderServiceSearchResponse,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import {
  ReadTreeResponseFactory,
  ReaderFactory,
  urlReaderFactoriesServiceRef,
} from '@backstage/backend-defaults/urlReader';
import { NotFoundError, NotModifiedError } from '@backstage/errors';
import { minimatch } from 'minimatch';
import { finished, Readable } from 'node:stream';
import {
  createGitClient,
  providerRemotes,
  readProviderConfigs,
} from './config';
import { GitCli } from './git';
import { splitRemoteUrl } from './locations';

const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads `<remote>/<path>` URLs, the locations the Git provider gives entities from servers without a known
 * web UI, so that TechDocs `dir:` references and other readers work with any Git server.
 */
export class GitUrlReader implements UrlReaderService {
  static factory: ReaderFactory = ({ config, logger, treeResponseFactory }) => {
    return readProviderConfigs(config).map(provider => {
      const reader = new GitUrlReader(
        providerRemotes(provider),
        provider.settings.branch,
        createGitClient(config, provider, 'reader', logger),
        treeResponseFactory,
      );
      return {
        predicate: url => reader.split(url.toString()) !== undefined,
        reader,
      };
    });
  };

  constructor(
    /** Remote URLs, and prefixes of discovered ones (ending in `/`). */
    private readonly remotes: string[],
    private readonly branch: string | undefined,
    private readonly git: GitCli,
    private readonly treeResponseFactory: ReadTreeResponseFactory,
  ) {}

  /** The remote and the path in it that a URL names; undefined when it is not under our remotes. */
  split(url: string) {
    return splitRemoteUrl(this.remotes, url);
  }

  async read(url: string): Promise<Buffer> {
    const response = await this.readUrl(url);
    return response.buffer();
  }

  async readUrl(
    url: string,
    options?: UrlReaderServiceReadUrlOptions,
  ): Promise<UrlReaderServiceReadUrlResponse> {
    const content = await this.git.withCache(async () => {
      const { commit, path } = await this.fetch(url, options?.etag);
      const objects = await this.git.objects();
      const read = await objects
        .read(`${commit}:${path}`, MAX_FILE_BYTES)
        .catch(() => {
          throw new NotFoundError(`${url} does not exist at ${commit}`);
        });
      if (!Buffer.isBuffer(read)) {
        throw new NotFoundError(`${url} is over ${MAX_FILE_BYTES} bytes`);
      }
      return { buffer: read, commit };
    });
    return {
      buffer: async () => content.buffer,
      stream: () => Readable.from(content.buffer),
      etag: content.commit,
    };
  }

  async readTree(
    url: string,
    options?: UrlReaderServiceReadTreeOptions,
  ): Promise<UrlReaderServiceReadTreeResponse> {
    const release = await this.git.holdCache();
    try {
      const { mirror, commit, path } = await this.fetch(url, options?.etag);
      const archive = this.git.archive(mirror, commit, path);
      // The archive is read after this returns, by the caller.
      finished(archive, () => release());
      return await this.treeResponseFactory.fromTarArchive({
        stream: archive,
        subpath: path,
        etag: commit,
        filter: options?.filter,
        stripFirstDirectory: false,
      });
    } catch (error) {
      await release();
      throw error;
    }
  }

  async search(
    url: string,
    options?: UrlReaderServiceSearchOptions,
  ): Promise<UrlReaderServiceSearchResponse> {
    const { remote } = this.split(url)!;
    const {
      commit,
      path: pattern,
      matches,
    } = await this.git.withCache(async () => {
      const fetched = await this.fetch(url, options?.etag);
      const objects = await this.git.objects();
      const listed = await objects.listTree(fetched.commit, dir =>
        minimatch(dir, fetched.path, { partial: true }),
      );
      return { ...fetched, matches: listed };
    });
    return {
      etag: commit,
      files: matches
        .filter(entry => minimatch(entry.path, pattern))
        .map(entry => ({
          url: `${remote}/${entry.path}`,
          content: () => this.read(`${remote}/${entry.path}`),
        })),
    };
  }

  toString() {
    return `portico-git{remotes=${this.remotes.join(',')}}`;
  }

  private async fetch(url: string, etag?: string) {
    const target = this.split(url);
    if (!target) throw new NotFoundError(`${url} is not under a Git remote`);
    const head = await this.git.headCommit(target.remote, this.branch);
    if (etag === head.commit) {
      throw new NotModifiedError(`${url} is unchanged at ${etag}`);
    }
    const { mirror, commit } = await this.git.fetchHead(
      target.remote,
      this.branch,
    );
    return { mirror, commit, path: target.path };
  }
}

/** Lets every backend plugin (TechDocs among them) read the Git provider's locations. */
export const gitUrlReaderFactory = createServiceFactory({
  service: urlReaderFactoriesServiceRef,
  deps: {},
  async factory() {
    return GitUrlReader.factory;
  },
});
