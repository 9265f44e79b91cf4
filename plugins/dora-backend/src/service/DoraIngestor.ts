import { LoggerService } from '@backstage/backend-plugin-api';
import { DoraStore, IngestResult } from '../database/DatabaseDoraStore';
import { Attribution, IngestBatch } from '../database/records';
import { NormalizedEvent, Subject } from '../sources/types';

/** Attributes normalized events to catalog entities and stores them as one batch. */
export class DoraIngestor {
  constructor(
    private readonly store: DoraStore,
    private readonly attribute: (subject: Subject) => Promise<Attribution>,
    private readonly logger: LoggerService,
  ) {}

  async ingest(events: NormalizedEvent[]): Promise<IngestResult> {
    const batch: Required<IngestBatch> = {
      deployments: [],
      changes: [],
      incidents: [],
    };
    for (const event of events) {
      const attribution = await this.attribute(event.record.subject);
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
