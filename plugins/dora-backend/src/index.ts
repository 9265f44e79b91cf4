/**
 * DORA metrics for Portico: deployments, changes and incidents, attributed to catalog entities, with
 * the five metrics computed in SQL.
 *
 * @packageDocumentation
 */
export { doraPlugin as default } from './plugin';
