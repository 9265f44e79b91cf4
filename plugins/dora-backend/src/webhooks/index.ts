/**
 * The events plugin's HTTP ingresses for DORA's sources (GitHub, GitLab, PagerDuty, CDEvents), with
 * their signatures and payloads checked before anything is published.
 *
 * @packageDocumentation
 */
export { eventsModuleDoraWebhooks as default } from './module';
