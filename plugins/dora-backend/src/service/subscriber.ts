import { LoggerService } from '@backstage/backend-plugin-api';
import { EventParams, EventsService } from '@backstage/plugin-events-node';
import { normalizeCdevent } from '../sources/cdevents';
import { GITHUB_EVENTS, normalizeGithub } from '../sources/github';
import { GITLAB_EVENTS, normalizeGitlab } from '../sources/gitlab';
import { normalizePagerDuty } from '../sources/pagerduty';
import { NormalizedEvent, SourceSettings } from '../sources/types';
import { DoraIngestor } from './DoraIngestor';

/**
 * Reads the webhook topics the events plugin publishes (`github.<event>` and `gitlab.<kind>` from
 * Backstage's routers, `pagerduty` and `cdevents` as they came). Their ingresses already refused bad
 * signatures and malformed payloads.
 */
export async function subscribeToWebhooks(options: {
  events: EventsService;
  ingestor: DoraIngestor;
  settings: SourceSettings;
  logger: LoggerService;
}) {
  const { events, ingestor, settings, logger } = options;
  const normalize = (params: EventParams): NormalizedEvent[] => {
    const [source, subtopic] = params.topic.split('.');
    switch (source) {
      case 'github':
        return normalizeGithub(subtopic, params.eventPayload, settings);
      case 'gitlab':
        return normalizeGitlab(params.eventPayload, settings);
      case 'pagerduty':
        return normalizePagerDuty(params.eventPayload);
      default:
        return normalizeCdevent(params.eventPayload, settings);
    }
  };
  await events.subscribe({
    id: 'dora',
    topics: [
      ...GITHUB_EVENTS.map(event => `github.${event}`),
      ...GITLAB_EVENTS.map(kind => `gitlab.${kind}`),
      'pagerduty',
      'cdevents',
    ],
    onEvent: async params => {
      try {
        const normalized = normalize(params);
        if (normalized.length > 0) await ingestor.ingest(normalized);
      } catch (error) {
        logger.error(`DORA could not store a ${params.topic} event: ${error}`);
        throw error;
      }
    },
  });
}
