import { LoggerService } from '@backstage/backend-plugin-api';
import { DoraStore, IngestResult } from '../database/DatabaseDoraStore';
import { Attribution, IngestBatch } from '../database/records';
import { NormalizedEvent, Subject } from '../sources/types';
import { subjectKey } from './attribution';

/** Attributes normalized events to catalog entities and stores them as one batch. */
export class DoraIngestor {
  constructor(
    private readonly store: DoraStore,
    private readonly attributeAll: (
      subjects: Subject[],
    ) => Promise<Map<string, Attribution>>,
    private readonly logger: LoggerService,
  ) {}

  async ingest(events: NormalizedEvent[]): Promise<IngestResult> {
    const batch: Required<IngestBatch> = {
      deployments: [],
      changes: [],
      incidents: [],
    };
    const attributions = await this.attributeAll(
      events.map(event => event.record.subject),
    );
    for (const event of events) {
      const attribution = attributions.get(
        subjectKey(event.record.subject),
      ) as Attribution;
      if (!attribution.entityRef) {
        this.logger.debug(
          `DORA ${event.kind} matched no entity: ${attribution.key}`,
        );
      }
      if (event.kind === 'deployment') {
        batch.deployments.push(attributed(event.record, attribution));
      } else if (event.kind === 'change') {
        batch.changes.push(attributed(event.record, attribution));
      } else {
        batch.incidents.push(attributed(event.record, attribution));
      }
    }
    return this.store.ingest(batch);
  }
}

function attributed<T extends { subject: Subject }>(
  record: T,
  attribution: Attribution,
): Omit<T, 'subject'> & { attribution: Attribution } {
  const { subject: _subject, ...rest } = record;
  return { ...rest, attribution };
}
