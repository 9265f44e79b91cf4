import { Knex } from 'knex';

/**
 * The derived columns: which deployment first shipped each change, which deployment caused each incident,
 * what each rollback rolled back, and whether each deployment failed and when it recovered. They are
 * recomputed, in set-based SQL that PostgreSQL and SQLite both run, for the entities and time ranges a
 * batch touched, so the result does not depend on the order events arrived in.
 */

const SUCCESSFUL_PRODUCTION = 'd.production AND d.succeeded';

/** What a batch touched in one entity: the earliest and latest time of anything in it. */
export interface EntityRange {
  entityRef: string;
  from: number;
  to: number;
}

export async function relink(
  tx: Knex.Transaction,
  ranges: EntityRange[],
  touched: {
    changeIds: number[];
    incidentIds: number[];
    deploymentIds: number[];
  },
): Promise<void> {
  const failureCandidates = new Set<number>(touched.deploymentIds);
  for (const range of ranges) {
    await relinkRollbacks(tx, range);
    await relinkChanges(tx, range);
    for (const id of await relinkIncidents(tx, range))
      failureCandidates.add(id);
    for (const id of await deploymentsSince(tx, range))
      failureCandidates.add(id);
  }
  await relinkExplicitChanges(tx, touched.deploymentIds, touched.changeIds);
  for (const id of await relinkNamedIncidents(tx, touched.incidentIds)) {
    failureCandidates.add(id);
  }
  for (const id of await resolveNamedFixes(tx, touched.deploymentIds)) {
    failureCandidates.add(id);
  }
  await recomputeFailures(tx, [...failureCandidates]);
}

/** A rollback rolled back the latest successful production deployment of its entity before it. */
async function relinkRollbacks(tx: Knex.Transaction, range: EntityRange) {
  await tx.raw(
    `UPDATE dora_deployments SET rollback_of = (
       SELECT d.id FROM dora_deployments d
       WHERE d.entity_ref = dora_deployments.entity_ref AND ${SUCCESSFUL_PRODUCTION} AND NOT d.rollback
         AND d.finished_at < dora_deployments.finished_at
       ORDER BY d.finished_at DESC, d.id DESC LIMIT 1)
     WHERE entity_ref = ? AND rollback AND finished_at >= ?`,
    [range.entityRef, range.from],
  );
}

const FIRST_SHIPPING_DEPLOYMENT = `
  SELECT d.id FROM dora_deployments d
  WHERE d.entity_ref = dora_changes.entity_ref AND ${SUCCESSFUL_PRODUCTION}
    AND d.finished_at >= dora_changes.link_at
  ORDER BY d.finished_at, d.id LIMIT 1`;

/**
 * A change no deployment named is shipped by the first successful production deployment of its entity
 * that finished after it was merged. Only changes the batch can have moved are recomputed.
 */
async function relinkChanges(tx: Knex.Transaction, range: EntityRange) {
  await tx.raw(
    `UPDATE dora_changes SET
       deployment_id = (${FIRST_SHIPPING_DEPLOYMENT}),
       deployed_at = (SELECT s.finished_at FROM dora_deployments s WHERE s.id = (${FIRST_SHIPPING_DEPLOYMENT}))
     WHERE entity_ref = ? AND NOT explicit
       AND link_at <= ? AND (deployed_at IS NULL OR deployed_at >= ? OR link_at >= ?)`,
    [range.entityRef, range.to, range.from, range.from],
  );
}

const FIRST_NAMING_DEPLOYMENT = `
  SELECT d.id FROM dora_deployment_changes l JOIN dora_deployments d ON d.id = l.deployment_id
  WHERE l.change_id = dora_changes.id AND ${SUCCESSFUL_PRODUCTION}
  ORDER BY d.finished_at, d.id LIMIT 1`;

/** A change a deployment named is shipped by the first successful production deployment naming it. */
async function relinkExplicitChanges(
  tx: Knex.Transaction,
  deploymentIds: number[],
  changeIds: number[],
) {
  for (const ids of chunks(deploymentIds)) {
    await tx.raw(
      `UPDATE dora_changes SET
         deployment_id = (${FIRST_NAMING_DEPLOYMENT}),
         deployed_at = (SELECT s.finished_at FROM dora_deployments s WHERE s.id = (${FIRST_NAMING_DEPLOYMENT}))
       WHERE explicit AND id IN (
         SELECT change_id FROM dora_deployment_changes WHERE deployment_id IN (${marks(
           ids,
         )}))`,
      ids,
    );
  }
  for (const ids of chunks(changeIds)) {
    await tx.raw(
      `UPDATE dora_changes SET
         deployment_id = (${FIRST_NAMING_DEPLOYMENT}),
         deployed_at = (SELECT s.finished_at FROM dora_deployments s WHERE s.id = (${FIRST_NAMING_DEPLOYMENT}))
       WHERE explicit AND id IN (${marks(ids)})`,
      ids,
    );
  }
}

/**
 * An incident whose sender named no deployment is caused by the latest successful production deployment
 * of its entity at or before its detection. Returns the deployments that lost or gained an incident.
 */
async function relinkIncidents(
  tx: Knex.Transaction,
  range: EntityRange,
): Promise<number[]> {
  const where = (q: Knex.QueryBuilder) =>
    q
      .where('entity_ref', range.entityRef)
      .whereNull('deployment_source')
      .where('detected_at', '>=', range.from);
  const before = await where(tx('dora_incidents'))
    .whereNotNull('deployment_id')
    .distinct('deployment_id');
  await tx.raw(
    `UPDATE dora_incidents SET deployment_id = (
       SELECT d.id FROM dora_deployments d
       WHERE d.entity_ref = dora_incidents.entity_ref AND ${SUCCESSFUL_PRODUCTION}
         AND d.finished_at <= dora_incidents.detected_at
       ORDER BY d.finished_at DESC, d.id DESC LIMIT 1)
     WHERE entity_ref = ? AND deployment_source IS NULL AND detected_at >= ?`,
    [range.entityRef, range.from],
  );
  const after = await where(tx('dora_incidents'))
    .whereNotNull('deployment_id')
    .distinct('deployment_id');
  return [...before, ...after].map(row => Number(row.deployment_id));
}

/** Incidents whose sender named the deployment that caused them. */
async function relinkNamedIncidents(
  tx: Knex.Transaction,
  incidentIds: number[],
): Promise<number[]> {
  const affected: number[] = [];
  for (const ids of chunks(incidentIds)) {
    const named = () =>
      tx('dora_incidents').whereIn('id', ids).whereNotNull('deployment_source');
    const before = await named()
      .whereNotNull('deployment_id')
      .pluck('deployment_id');
    await tx.raw(
      `UPDATE dora_incidents SET deployment_id = (
         SELECT d.id FROM dora_deployments d
         WHERE d.source = dora_incidents.deployment_source AND d.external_id = dora_incidents.deployment_external_id)
       WHERE deployment_source IS NOT NULL AND id IN (${marks(ids)})`,
      ids,
    );
    const after = await named()
      .whereNotNull('deployment_id')
      .pluck('deployment_id');
    affected.push(...[...before, ...after].map(Number));
  }
  return affected;
}

/** Deployments that name the deployment they fixed by its id in their source; returns the fixed ones. */
async function resolveNamedFixes(
  tx: Knex.Transaction,
  deploymentIds: number[],
): Promise<number[]> {
  const fixed: number[] = [];
  for (const ids of chunks(deploymentIds)) {
    await tx.raw(
      `UPDATE dora_deployments SET fix_of = (
         SELECT d.id FROM dora_deployments d
         WHERE d.source = dora_deployments.source AND d.external_id = dora_deployments.fix_of_external_id)
       WHERE fix_of_external_id IS NOT NULL AND id IN (${marks(ids)})`,
      ids,
    );
    const rows = await tx('dora_deployments')
      .whereIn('id', ids)
      .where(q => q.whereNotNull('fix_of').orWhereNotNull('rollback_of'))
      .select('fix_of', 'rollback_of');
    for (const row of rows) {
      if (row.fix_of !== null) fixed.push(Number(row.fix_of));
      if (row.rollback_of !== null) fixed.push(Number(row.rollback_of));
    }
  }
  return fixed;
}

/**
 * The deployments whose failure a change at `from` can alter: the latest one before it (its incidents may
 * have moved to a newer one), every one since, and what the rollbacks since rolled back.
 */
async function deploymentsSince(
  tx: Knex.Transaction,
  range: EntityRange,
): Promise<number[]> {
  const previous = await tx('dora_deployments')
    .where('entity_ref', range.entityRef)
    .where('finished_at', '<', range.from)
    .orderBy('finished_at', 'desc')
    .first('finished_at');
  const since = previous ? Number(previous.finished_at) : range.from;
  const rows = await tx('dora_deployments')
    .where('entity_ref', range.entityRef)
    .where('finished_at', '>=', since)
    .select('id', 'rollback_of', 'fix_of');
  return rows.flatMap(row =>
    [row.id, row.rollback_of, row.fix_of].filter(id => id !== null).map(Number),
  );
}

const RESTORED_AT = `(
  SELECT MIN(f.finished_at) FROM dora_deployments f
  WHERE (f.fix_of = dora_deployments.id OR f.rollback_of = dora_deployments.id) AND f.succeeded)`;
const INCIDENTS_OF =
  'FROM dora_incidents i WHERE i.deployment_id = dora_deployments.id';
const ALL_RESOLVED_AT = `(CASE
  WHEN EXISTS (SELECT 1 ${INCIDENTS_OF}) AND NOT EXISTS (SELECT 1 ${INCIDENTS_OF} AND i.resolved_at IS NULL)
  THEN (SELECT MAX(i.resolved_at) ${INCIDENTS_OF}) END)`;

/**
 * Failed: a person marked it, an incident is linked to it, or a successful deployment fixed or rolled it
 * back. Recovered: at the first such deployment, else when the last of its incidents was resolved.
 */
async function recomputeFailures(
  tx: Knex.Transaction,
  deploymentIds: number[],
) {
  for (const ids of chunks([...new Set(deploymentIds)])) {
    await tx.raw(
      `UPDATE dora_deployments SET
         failed = (marked_failed OR EXISTS (SELECT 1 ${INCIDENTS_OF}) OR ${RESTORED_AT} IS NOT NULL),
         recovered_at = (CASE
           WHEN ${RESTORED_AT} IS NULL THEN ${ALL_RESOLVED_AT}
           WHEN ${ALL_RESOLVED_AT} IS NULL THEN ${RESTORED_AT}
           WHEN ${RESTORED_AT} < ${ALL_RESOLVED_AT} THEN ${RESTORED_AT}
           ELSE ${ALL_RESOLVED_AT} END)
       WHERE id IN (${marks(ids)})`,
      ids,
    );
  }
}

/** SQLite allows 999 bound parameters in older builds: stay well under. */
export function chunks<T>(items: T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    result.push(items.slice(i, i + size));
  }
  return result;
}

function marks(ids: unknown[]) {
  return ids.map(() => '?').join(', ');
}
