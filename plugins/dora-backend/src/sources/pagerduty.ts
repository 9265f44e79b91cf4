import { z } from 'zod';
import { NormalizedEvent, parseOrExplain, timestamp } from './types';

const webhook = z.object({
  event: z.object({
    id: z.string(),
    event_type: z.string(),
    resource_type: z.string(),
    occurred_at: timestamp,
    data: z.object({
      id: z.string(),
      type: z.string().optional(),
      title: z.string().nullish(),
      html_url: z.string().nullish(),
      created_at: timestamp.optional(),
      service: z.object({ id: z.string() }),
    }),
  }),
});

/** PagerDuty V3 webhook event types that move an incident's detection or resolution. */
export const PAGERDUTY_EVENTS = [
  'incident.triggered',
  'incident.resolved',
  'incident.reopened',
] as const;

/**
 * A PagerDuty V3 webhook in Portico's terms; empty for events that neither open nor resolve an incident
 * (acknowledged, annotated, a service event). Throws a `PayloadError` naming the field when malformed.
 */
export function normalizePagerDuty(payload: unknown): NormalizedEvent[] {
  const type = (payload as { event?: { event_type?: unknown } } | null)?.event
    ?.event_type;
  if (!PAGERDUTY_EVENTS.includes(type as (typeof PAGERDUTY_EVENTS)[number])) {
    parseOrExplain(
      z.object({ event: z.object({ event_type: z.string() }) }),
      payload,
      'PagerDuty webhook',
    );
    return [];
  }
  const { event } = parseOrExplain(webhook, payload, String(type));
  const incident = event.data;
  return [
    {
      kind: 'incident',
      record: {
        source: 'pagerduty',
        externalId: incident.id,
        subject: {
          annotation: 'pagerduty.com/service-id',
          value: incident.service.id,
        },
        title: incident.title ?? undefined,
        url: incident.html_url ?? undefined,
        detectedAt:
          incident.created_at ??
          (type === 'incident.triggered' ? event.occurred_at : undefined),
        resolvedAt:
          type === 'incident.resolved' ? event.occurred_at : undefined,
        reopenedAt:
          type === 'incident.reopened' ? event.occurred_at : undefined,
      },
    },
  ];
}
