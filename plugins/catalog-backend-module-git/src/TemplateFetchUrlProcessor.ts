import {
  ANNOTATION_SOURCE_LOCATION,
  Entity,
  parseLocationRef,
} from '@backstage/catalog-model';
import { ScmIntegrationRegistry } from '@backstage/integration';
import { CatalogProcessor } from '@backstage/plugin-catalog-node';
import { JsonObject, JsonValue } from '@backstage/types';
import { posix } from 'node:path';
import { ANNOTATION_GIT_COMMIT } from './GitEntityProvider';
import { splitRemoteUrl } from './locations';

/**
 * A template's `fetch:*` steps name their files relative to the template (`url: ./skeleton`), and the
 * scaffolder resolves such a URL only through an integration of the template's host: for a template the
 * Git provider read from any other server (`git://`, `ssh://`, a self-hosted https server) it fails with
 * "No integration found", and for a `file:` remote it copies from the file system, where a bare repository
 * holds no files. Those URLs are made absolute here, under the remote, where `GitUrlReader` reads them at
 * the branch the template came from. As Backstage resolves them, a path with a leading `/` starts at the
 * repository's root; a `${{ }}` expression stays in the path, filled in when the template runs.
 */
export class TemplateFetchUrlProcessor implements CatalogProcessor {
  constructor(
    private readonly integrations: ScmIntegrationRegistry,
    /** The remotes the Git providers read, as `GitUrlReader` takes them. */
    private readonly remotes: string[],
  ) {}

  getProcessorName() {
    return 'PorticoTemplateFetchUrlProcessor';
  }

  async preProcessEntity(entity: Entity): Promise<Entity> {
    const template = this.templateDirectory(entity);
    const steps = entity.spec?.steps;
    if (!template || !Array.isArray(steps)) return entity;
    let changed = false;
    const resolved = steps.map(step => {
      if (!isObject(step) || !isObject(step.input)) return step;
      const { action } = step;
      const path =
        typeof action === 'string' && action.startsWith('fetch:')
          ? pathInRepository(template.path, step.input.url)
          : undefined;
      if (path === undefined) return step;
      changed = true;
      const url = `${template.remote}/${path === '.' ? '' : path}`;
      return { ...step, input: { ...step.input, url } };
    });
    return changed
      ? { ...entity, spec: { ...entity.spec, steps: resolved } }
      : entity;
  }

  /**
   * The remote and the directory of a template the Git provider read from a server the scaffolder has no
   * integration for; undefined for any other entity.
   */
  private templateDirectory(entity: Entity) {
    const annotations = entity.metadata.annotations ?? {};
    const source = annotations[ANNOTATION_SOURCE_LOCATION];
    if (
      entity.kind.toLocaleLowerCase('en-US') !== 'template' ||
      !annotations[ANNOTATION_GIT_COMMIT] ||
      !source
    ) {
      return undefined;
    }
    let target: string;
    try {
      const location = parseLocationRef(source);
      if (location.type !== 'url') return undefined;
      target = location.target;
    } catch {
      // A source location the file set itself, and wrote wrong: the catalog reports it.
      return undefined;
    }
    if (!target.startsWith('file:') && this.integrations.byUrl(target)) {
      return undefined;
    }
    const split = splitRemoteUrl(this.remotes, target);
    // The scaffolder takes only URLs for absolute, which scp-like remotes (`git@host:repo.git`) are not.
    return split && isAbsolute(split.remote) ? split : undefined;
  }
}

/** Where a relative fetch URL points in the repository, from the template's directory; else undefined. */
function pathInRepository(
  directory: string,
  url: JsonValue | undefined,
): string | undefined {
  if (typeof url !== 'string' || isAbsolute(url) || url.startsWith('//')) {
    return undefined;
  }
  // An expression may make the whole URL; one that only ends a relative path stays in it.
  if (url.includes('${{') && !/^\.{0,2}\//.test(url)) return undefined;
  const path = url.startsWith('/')
    ? posix.normalize(url.slice(1))
    : posix.join(directory, url);
  return path === '..' || path.startsWith('../') ? undefined : path;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsolute(url: string) {
  try {
    return Boolean(new URL(url));
  } catch {
    return false;
  }
}
