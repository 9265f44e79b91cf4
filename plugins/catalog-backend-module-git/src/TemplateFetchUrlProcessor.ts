import {
  ANNOTATION_SOURCE_LOCATION,
  Entity,
  parseLocationRef,
} from '@backstage/catalog-model';
import { ScmIntegrationRegistry } from '@backstage/integration';
import { CatalogProcessor } from '@backstage/plugin-catalog-node';
import { JsonObject, JsonValue } from '@backstage/types';
import { ANNOTATION_GIT_COMMIT } from './GitEntityProvider';

/**
 * A template's `fetch:*` steps name their files relative to the template (`url: ./skeleton`), and the
 * scaffolder resolves such a URL only through an integration of the template's host: for a template the
 * Git provider read from any other server (`git://`, `ssh://`, a self-hosted https server) it fails with
 * "No integration found", and for a `file:` remote it copies from the file system, where a bare repository
 * holds no files. Those URLs are made absolute here, under the remote, where `GitUrlReader` reads them at
 * the branch the template came from.
 */
export class TemplateFetchUrlProcessor implements CatalogProcessor {
  constructor(private readonly integrations: ScmIntegrationRegistry) {}

  getProcessorName() {
    return 'PorticoTemplateFetchUrlProcessor';
  }

  async preProcessEntity(entity: Entity): Promise<Entity> {
    const base = this.unresolvableBase(entity);
    const steps = entity.spec?.steps;
    if (!base || !Array.isArray(steps)) return entity;
    let changed = false;
    const resolved = steps.map(step => {
      if (!isObject(step) || !isObject(step.input)) return step;
      const { action } = step;
      const { url } = step.input;
      if (
        typeof action !== 'string' ||
        !action.startsWith('fetch:') ||
        typeof url !== 'string' ||
        isAbsolute(url) ||
        // Filled in from parameters when the template runs.
        url.includes('${{')
      ) {
        return step;
      }
      changed = true;
      return {
        ...step,
        input: { ...step.input, url: new URL(url, base).href },
      };
    });
    return changed
      ? { ...entity, spec: { ...entity.spec, steps: resolved } }
      : entity;
  }

  /** The template's directory, when it came from the Git provider and the scaffolder cannot resolve against it. */
  private unresolvableBase(entity: Entity): string | undefined {
    const annotations = entity.metadata.annotations;
    const source = annotations?.[ANNOTATION_SOURCE_LOCATION];
    if (
      entity.kind.toLocaleLowerCase('en-US') !== 'template' ||
      !annotations?.[ANNOTATION_GIT_COMMIT] ||
      !source
    ) {
      return undefined;
    }
    const { type, target } = parseLocationRef(source);
    if (type !== 'url') return undefined;
    const resolvable =
      !target.startsWith('file:') && this.integrations.byUrl(target);
    return resolvable ? undefined : target;
  }
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
