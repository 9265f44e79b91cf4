import {
  ANNOTATION_EDIT_URL,
  ANNOTATION_VIEW_URL,
  Entity,
} from '@backstage/catalog-model';
import { CatalogProcessor } from '@backstage/plugin-catalog-node';

const BROWSABLE = /^https?:\/\//i;

/**
 * The catalog takes an entity's `url:` location as its view URL. For a Git server without a web UI that is
 * a `git://`, `ssh://` or `file:` address, which a browser cannot open: the entity page's "View source"
 * would lead nowhere, so such view and edit URLs are dropped.
 */
export class ViewUrlProcessor implements CatalogProcessor {
  getProcessorName() {
    return 'PorticoViewUrlProcessor';
  }

  async preProcessEntity(entity: Entity): Promise<Entity> {
    const annotations = entity.metadata.annotations;
    const unbrowsable = [ANNOTATION_VIEW_URL, ANNOTATION_EDIT_URL].filter(
      key =>
        annotations?.[key] !== undefined && !BROWSABLE.test(annotations[key]),
    );
    if (!annotations || !unbrowsable.length) return entity;
    const kept = { ...annotations };
    for (const key of unbrowsable) delete kept[key];
    return { ...entity, metadata: { ...entity.metadata, annotations: kept } };
  }
}
