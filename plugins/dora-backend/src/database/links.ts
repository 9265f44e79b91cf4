import { Knex } from 'knex';

/**
 * The derived columns: which deployment first shipped each change (and how many each shipped), which
 * deployment caused each incident, what each rollback rolled back, and whether each deployment failed and
 * when it recovered. They are
 * recomputed, in set-based SQL that PostgreSQL and SQLite both run, for the entities and time ranges a
 * batch touched, so the result does not depend on the order events arrived in.
 */

const SUCCESSFUL_PRODUCTION = 'd.production AND d.succeeded';

/**
 * When an entity next deployed, or the largest time there is when it did not: an upper bound that
 * PostgreSQL can take into an index scan, which `r.next_at IS NULL OR ...` is not.
 */
const NEXT_OR_LAST = 'COALESCE(r.next_at, 9223372036854775807)';

/** An id or time as the driver returned it (a string for BIGINT on PostgreSQL) as a number, or null. */
const idOrNull = (value: unknown) => (value === null ? null : Number(value));

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
  // The deployments stored or changed, and those each step below moved something to or from: only
  // their failure, recovery and shipped changes can have changed.
  const failureCandidates = new Set<number>(touched.deploymentIds);
  // A batch from CI touches many entities at once: each statement covers all of them (a few hundred on SQLite).
  for (const part of statementParts(tx, ranges, 200)) {
    const r = await rangesOf(tx, part);
    for (const relinkIn of [relinkRollbacks, relinkChanges, relinkIncidents]) {
      for (const id of await relinkIn(tx, r)) {
        failureCandidates.add(id);
      }
    }
  }
  for (const id of await relinkExplicitChanges(
    tx,
    touched.deploymentIds,
    touched.changeIds,
  )) {
    failureCandidates.add(id);
  }
  for (const id of await relinkNamedIncidents(tx, touched.incidentIds)) {
    failureCandidates.add(id);
  }
  for (const id of await resolveNamedFixes(tx, touched.deploymentIds)) {
    failureCandidates.add(id);
  }
  await recomputeDeployments(tx, [...failureCandidates]);
}

/**
 * The ranges as a common table `r(entity_ref, from_at, to_at, next_at)`, in SQL for `WITH`, with its
 * bindings. `next_at` is when the entity's first successful production deployment after the range
 * finished (null when there is none): nothing from then on can be moved by what happened in the range.
 * PostgreSQL takes the ranges as four array parameters (see `inIds`).
 */
interface Ranges {
  cte: string;
  bindings: Knex.Value[];
}

/**
 * The ranges with when each entity next deployed, found once for the relinking's statements: the
 * relinking changes no deployment's time or outcome.
 */
async function rangesOf(
  tx: Knex.Transaction,
  ranges: EntityRange[],
): Promise<Ranges> {
  const bare = rangesTable(tx, ranges);
  const nextAt = new Map(
    (
      await rawRows(
        tx,
        `WITH ${bare.cte} SELECT r.entity_ref, (SELECT MIN(d.finished_at) FROM dora_deployments d
           WHERE d.entity_ref = r.entity_ref AND ${SUCCESSFUL_PRODUCTION} AND d.finished_at > r.to_at
         ) AS next_at FROM r`,
        bare.bindings,
      )
    ).map(row => [
      row.entity_ref as string,
      row.next_at === null ? null : Number(row.next_at),
    ]),
  );
  return rangesTable(tx, ranges, nextAt);
}

/** `r(entity_ref, from_at, to_at, next_at)`, next_at from `nextAt` by entity (null when not in it). */
function rangesTable(
  tx: Knex.Transaction,
  ranges: EntityRange[],
  nextAt = new Map<string, number | null>(),
): Ranges {
  const nextOf = (range: EntityRange) => nextAt.get(range.entityRef) ?? null;
  if (isPostgres(tx)) {
    return {
      cte: `r(entity_ref, from_at, to_at, next_at) AS (SELECT * FROM unnest(CAST(? AS VARCHAR(255)[]),
        CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[])))`,
      bindings: [
        ranges.map(range => range.entityRef),
        ranges.map(range => range.from),
        ranges.map(range => range.to),
        ranges.map(nextOf) as number[],
      ],
    };
  }
  return {
    cte: `r(entity_ref, from_at, to_at, next_at) AS (VALUES ${ranges
      .map(() => '(?, ?, ?, ?)')
      .join(', ')})`,
    bindings: ranges.flatMap(range => [
      range.entityRef,
      range.from,
      range.to,
      nextOf(range),
    ]),
  };
}

/** Rollbacks from a range's start on (see the relink_indexes migration). */
const ROLLBACKS_SINCE_RANGE =
  'x.entity_ref = r.entity_ref AND x.rollback AND x.finished_at >= r.from_at';

/** The latest successful production deployment before a rollback (`row`), not itself a rollback. */
const rolledBack = (row: string) => `
  SELECT d.id FROM dora_deployments d
  WHERE d.entity_ref = ${row}.entity_ref AND ${SUCCESSFUL_PRODUCTION} AND NOT d.rollback
    AND d.finished_at < ${row}.finished_at
  ORDER BY d.finished_at DESC, d.id DESC LIMIT 1`;

/**
 * A rollback rolled back the latest successful production deployment of its entity before it. Returns
 * the deployments rolled back before and after.
 */
async function relinkRollbacks(tx: Knex.Transaction, r: Ranges) {
  const rollbacks = await rowsPerEntity(tx, r, {
    table: 'dora_deployments',
    where: ROLLBACKS_SINCE_RANGE,
    columns: `x.id, x.rollback_of AS was, (${rolledBack('x')}) AS now`,
  });
  const latest = rolledBack('dora_deployments');
  return relinkMoved(
    tx,
    rollbacks,
    `UPDATE dora_deployments SET rollback_of = (${latest})`,
  );
}

/**
 * Rows of `table` (aliased `x`) that `where` picks for one range `r` (with `r.next_at`, when the entity next
 * deployed), as `columns` (default `x.id`).
 */
interface PerEntity {
  table: string;
  where: string;
  columns?: string;
}

/**
 * The rows each query picks for each range, one index range per entity. As a join, PostgreSQL reckons
 * with an entity's whole history and plans a scan of the table: there, each entity is a LATERAL subquery
 * that OFFSET 0 keeps apart. SQLite, which has no LATERAL, loops over `r` anyway.
 */
async function rowsPerEntity(
  tx: Knex.Transaction,
  r: Ranges,
  ...queries: PerEntity[]
): Promise<Record<string, any>[]> {
  const postgres = isPostgres(tx);
  return rawRows(
    tx,
    `WITH ${r.cte} ${queries
      .map(({ table, where, columns = 'x.id' }) =>
        postgres
          ? `SELECT y.* FROM r CROSS JOIN LATERAL (SELECT ${columns} FROM ${table} x WHERE ${where} OFFSET 0) y`
          : `SELECT ${columns} FROM r JOIN ${table} x ON ${where}`,
      )
      .join(' UNION ')}`,
    r.bindings,
  );
}

/**
 * Runs `update` for the rows `found` whose link moved: each comes with its `id`, the deployment it `was`
 * linked to and the one it is linked to `now`, and for changes the times of those (`was_at`, `now_at`).
 * Rewriting the others would only leave row versions to vacuum. Returns the deployments moved from and
 * to, whose failure or shipped changes may have changed.
 */
async function relinkMoved(
  tx: Knex.Transaction,
  found: Record<string, any>[],
  update: string,
  bindings: Knex.Value[] = [],
): Promise<number[]> {
  const moved = found.filter(
    row =>
      idOrNull(row.was) !== idOrNull(row.now) ||
      idOrNull(row.was_at ?? null) !== idOrNull(row.now_at ?? null),
  );
  await updateIds(
    tx,
    moved.map(row => Number(row.id)),
    update,
    bindings,
  );
  return linkedIds(moved);
}

/** The deployments that `rows` were linked to (`was`) and are linked to (`now`). */
function linkedIds(rows: Record<string, any>[]): number[] {
  return rows
    .flatMap(row => [idOrNull(row.was), idOrNull(row.now)])
    .filter((value): value is number => value !== null);
}

/** Runs `update` (without a WHERE) for the rows of `ids`, a few hundred at a time, by primary key. */
async function updateIds(
  tx: Knex.Transaction,
  ids: number[],
  update: string,
  bindings: Knex.Value[] = [],
) {
  for (const part of statementParts(tx, ids)) {
    const where = inIds(tx, 'id', part);
    await tx.raw(`${update} WHERE ${where.sql}`, [
      ...bindings,
      ...where.bindings,
    ]);
  }
}

/** The first successful production deployment of a change's entity after the change (`row`) was merged. */
const firstShipping = (row: string) => `
  SELECT d.id FROM dora_deployments d
  WHERE d.entity_ref = ${row}.entity_ref AND ${SUCCESSFUL_PRODUCTION}
    AND d.finished_at >= ${row}.link_at
  ORDER BY d.finished_at, d.id LIMIT 1`;

/** When that deployment finished. */
const shippedAt = (row: string) => `
  SELECT s.finished_at FROM dora_deployments s
  WHERE s.id = (${firstShipping(row)})`;

/**
 * A change no deployment named is shipped by the first successful production deployment of its entity
 * that finished after it was merged. Only changes the batch can have moved are recomputed: those not yet
 * shipped, shipped from the range's start until the entity next deployed, or merged in the range, each
 * found on an index of its own (as one condition with ORs, every change of the entity would be read). A
 * change merged by the range's end is shipped by that next deployment at the latest; one that a write
 * beside this relinking moved past it is the relinking of that write's own range to find. Returns the
 * deployments that shipped them before and after.
 */
async function relinkChanges(tx: Knex.Transaction, r: Ranges) {
  const candidates = (condition: string) => ({
    table: 'dora_changes',
    where: `x.entity_ref = r.entity_ref AND NOT x.explicit AND x.link_at <= r.to_at AND ${condition}`,
    columns: `x.id, x.deployment_id AS was, x.deployed_at AS was_at,
      (${firstShipping('x')}) AS now, (${shippedAt('x')}) AS now_at`,
  });
  const changes = await rowsPerEntity(
    tx,
    r,
    candidates('x.deployed_at IS NULL'),
    candidates(
      `x.deployed_at >= r.from_at AND x.deployed_at <= ${NEXT_OR_LAST}`,
    ),
    candidates('x.link_at >= r.from_at'),
  );
  const shipper = firstShipping('dora_changes');
  return relinkMoved(
    tx,
    changes,
    `UPDATE dora_changes SET
       deployment_id = (${shipper}),
       deployed_at = (${shippedAt('dora_changes')}),
       deployed_day = (SELECT s.local_day FROM dora_deployments s WHERE s.id = (${shipper}))`,
  );
}

/**
 * The first successful production deployment naming a change, from its links: `FROM` and what follows,
 * for `SELECT d.id` and the like, in a subquery of `dora_changes`. On PostgreSQL, OFFSET 0 keeps the
 * links' lookup apart from the ORDER BY: with the links not yet analysed (61,000 rows, no statistics), it
 * planned a walk of every deployment in time order, checking each for a link, and one statement ran for
 * over ten minutes.
 */
function firstNamingDeployment(tx: Knex.Transaction) {
  return `
  FROM (SELECT d.id, d.finished_at, d.local_day
    FROM dora_deployment_changes l JOIN dora_deployments d ON d.id = l.deployment_id
    WHERE l.change_id = dora_changes.id AND ${SUCCESSFUL_PRODUCTION}
    ${isPostgres(tx) ? 'OFFSET 0' : ''}) d
  ORDER BY d.finished_at, d.id LIMIT 1`;
}

/**
 * A change a deployment named is shipped by the first successful production deployment naming it.
 * Returns the deployments that shipped those changes before and after, whose counts may have moved.
 */
async function relinkExplicitChanges(
  tx: Knex.Transaction,
  deploymentIds: number[],
  changeIds: number[],
): Promise<number[]> {
  // The changes these deployments named before, too: a deployment whose status changed moves them.
  const named = new Set(changeIds);
  for (const ids of statementParts(tx, deploymentIds)) {
    const where = inIds(tx, 'deployment_id', ids);
    for (const id of await tx('dora_deployment_changes')
      .whereRaw(where.sql, where.bindings)
      .pluck('change_id')) {
      named.add(Number(id));
    }
  }
  const shippers: number[] = [];
  for (const ids of statementParts(tx, [...named])) {
    const moved = await movedExplicitChanges(tx, ids);
    await updateIds(
      tx,
      moved.map(change => change.id),
      `UPDATE dora_changes SET (deployment_id, deployed_at, deployed_day) = (
         SELECT d.id, d.finished_at, d.local_day ${firstNamingDeployment(tx)})`,
    );
    for (const change of moved) {
      for (const id of [change.from, change.to]) {
        if (id !== null) shippers.push(id);
      }
    }
  }
  return shippers;
}

/**
 * The explicit changes of `ids` whose first shipping deployment is not the one stored, with the one
 * stored and the one that shipped it: only those rows are written, as most were stored already linked.
 */
async function movedExplicitChanges(
  tx: Knex.Transaction,
  ids: number[],
): Promise<{ id: number; from: number | null; to: number | null }[]> {
  const where = inIds(tx, 'dora_changes.id', ids);
  const shipper = `SELECT d.id ${firstNamingDeployment(tx)}`;
  const rows = await rawRows(
    tx,
    // The shipper found once and joined for its time: two subqueries found it twice.
    `SELECT dora_changes.id, dora_changes.deployment_id, dora_changes.deployed_at,
       s.id AS shipper, s.finished_at AS shipped_at
     FROM dora_changes LEFT JOIN dora_deployments s ON s.id = (${shipper})
     WHERE dora_changes.explicit AND ${where.sql}`,
    where.bindings,
  );
  return rows
    .filter(
      row =>
        idOrNull(row.deployment_id) !== idOrNull(row.shipper) ||
        idOrNull(row.deployed_at) !== idOrNull(row.shipped_at),
    )
    .map(row => ({
      id: Number(row.id),
      from: idOrNull(row.deployment_id),
      to: idOrNull(row.shipper),
    }));
}

/** The latest successful production deployment of an incident's entity at or before its detection. */
const causedBy = (row: string) => `
  SELECT d.id FROM dora_deployments d
  WHERE d.entity_ref = ${row}.entity_ref AND ${SUCCESSFUL_PRODUCTION}
    AND d.finished_at <= ${row}.detected_at
  ORDER BY d.finished_at DESC, d.id DESC LIMIT 1`;

/**
 * An incident whose sender named no deployment is caused by the latest successful production deployment
 * of its entity at or before its detection. Only those detected from the range until the next such
 * deployment can move. Returns the deployments linked to them before and after.
 */
async function relinkIncidents(
  tx: Knex.Transaction,
  r: Ranges,
): Promise<number[]> {
  const movable = await rowsPerEntity(tx, r, {
    table: 'dora_incidents',
    where: `x.entity_ref = r.entity_ref AND x.deployment_source IS NULL
      AND x.detected_at >= r.from_at AND (r.next_at IS NULL OR x.detected_at < r.next_at)`,
    columns: `x.id, x.deployment_id AS was, (${causedBy('x')}) AS now`,
  });
  await relinkMoved(
    tx,
    movable,
    `UPDATE dora_incidents SET deployment_id = (${causedBy('dora_incidents')})`,
  );
  // Those that did not move may have been resolved since: their deployments' recovery is recomputed too.
  return linkedIds(movable);
}

/** Rows of a raw query: knex.raw answers with the driver's own shape. */
export async function rawRows(
  tx: Knex | Knex.Transaction,
  sql: string,
  bindings: readonly Knex.Value[],
): Promise<Record<string, any>[]> {
  const result = await tx.raw(sql, bindings);
  return Array.isArray(result) ? result : result.rows;
}

/** Incidents whose sender named the deployment that caused them. */
async function relinkNamedIncidents(
  tx: Knex.Transaction,
  incidentIds: number[],
): Promise<number[]> {
  const affected: number[] = [];
  for (const ids of statementParts(tx, incidentIds)) {
    const where = inIds(tx, 'id', ids);
    const named = () =>
      tx('dora_incidents')
        .whereRaw(where.sql, where.bindings)
        .whereNotNull('deployment_source');
    const before = await named()
      .whereNotNull('deployment_id')
      .pluck('deployment_id');
    await tx.raw(
      `UPDATE dora_incidents SET deployment_id = (
         SELECT d.id FROM dora_deployments d
         WHERE d.source = dora_incidents.deployment_source AND d.external_id = dora_incidents.deployment_external_id)
       WHERE deployment_source IS NOT NULL AND ${where.sql}`,
      where.bindings,
    );
    const after = await named()
      .whereNotNull('deployment_id')
      .pluck('deployment_id');
    affected.push(...[...before, ...after].map(Number));
  }
  return affected;
}

/**
 * Deployments that name the deployment they fixed by its id in their source, among `deploymentIds` and
 * naming one of them (a fix can arrive first); returns the fixed ones.
 */
async function resolveNamedFixes(
  tx: Knex.Transaction,
  deploymentIds: number[],
): Promise<number[]> {
  const fixed: number[] = [];
  for (const ids of statementParts(tx, deploymentIds)) {
    const where = inIds(tx, 'id', ids);
    await tx.raw(
      `UPDATE dora_deployments SET fix_of = (
         SELECT d.id FROM dora_deployments d
         WHERE d.source = dora_deployments.source AND d.external_id = dora_deployments.fix_of_external_id)
       WHERE fix_of_external_id IS NOT NULL AND ${where.sql}`,
      where.bindings,
    );
    const fixedHere = inIds(tx, 't.id', ids);
    await tx.raw(
      `UPDATE dora_deployments SET fix_of = t.id FROM dora_deployments t
       WHERE ${fixedHere.sql} AND dora_deployments.source = t.source
         AND dora_deployments.fix_of_external_id = t.external_id
         AND (dora_deployments.fix_of IS NULL OR dora_deployments.fix_of <> t.id)`,
      fixedHere.bindings,
    );
    const rows = await tx('dora_deployments')
      .whereRaw(where.sql, where.bindings)
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
 * Failed: a person marked it, an incident is linked to it, or a successful deployment fixed or rolled it
 * back. Recovered: at the first such deployment, else when the last of its incidents was resolved.
 * Shipped changes: those linked to it. Incidents, restores and changes are grouped once for the chunk,
 * then joined: no lookup per deployment.
 */
async function recomputeDeployments(
  tx: Knex.Transaction,
  deploymentIds: number[],
) {
  for (const ids of statementParts(tx, [...new Set(deploymentIds)], 300)) {
    const among = (column: string) => inIds(tx, column, ids);
    await tx.raw(
      `UPDATE dora_deployments SET
         failed = x.failed,
         shipped_changes = x.shipped_changes,
         recovered_at = x.recovered_at
       FROM (
         SELECT y.*, CASE
             WHEN y.restored_at IS NULL THEN y.all_resolved_at
             WHEN y.all_resolved_at IS NULL THEN y.restored_at
             WHEN y.restored_at < y.all_resolved_at THEN y.restored_at
             ELSE y.all_resolved_at END AS recovered_at
         FROM (
           SELECT d.id,
             (d.marked_failed OR inc.n IS NOT NULL OR res.restored_at IS NOT NULL) AS failed,
             res.restored_at,
             COALESCE(shipped.n, 0) AS shipped_changes,
             CASE WHEN inc.n = inc.resolved THEN inc.last_resolved_at END AS all_resolved_at
           FROM dora_deployments d
           LEFT JOIN (
             SELECT deployment_id, COUNT(*) AS n, COUNT(resolved_at) AS resolved,
               MAX(resolved_at) AS last_resolved_at
             FROM dora_incidents WHERE ${
               among('deployment_id').sql
             } GROUP BY deployment_id
           ) inc ON inc.deployment_id = d.id
           LEFT JOIN (
             SELECT target, MIN(finished_at) AS restored_at FROM (
               SELECT fix_of AS target, finished_at FROM dora_deployments
               WHERE ${among('fix_of').sql} AND succeeded
               UNION ALL
               SELECT rollback_of, finished_at FROM dora_deployments
               WHERE ${among('rollback_of').sql} AND succeeded
             ) t GROUP BY target
           ) res ON res.target = d.id
           LEFT JOIN (
             SELECT deployment_id, COUNT(*) AS n FROM dora_changes
             WHERE ${among('deployment_id').sql} GROUP BY deployment_id
           ) shipped ON shipped.deployment_id = d.id
           WHERE ${among('d.id').sql}
         ) y
       ) x
       -- The ids again, for the updated table itself: else PostgreSQL reads all of it to join.
       WHERE dora_deployments.id = x.id AND ${among('dora_deployments.id').sql}
         -- Only rows that change: every write leaves a row version for the vacuum.
         AND (dora_deployments.failed <> x.failed
           OR dora_deployments.shipped_changes <> x.shipped_changes
           OR COALESCE(dora_deployments.recovered_at, -1) <> COALESCE(x.recovered_at, -1))`,
      Array.from({ length: 6 }, () => among('id').bindings).flat(),
    );
  }
}

/**
 * `items` in the parts that one statement each takes. SQLite allows 999 bound parameters in older builds:
 * a few hundred (`sqliteSize`). PostgreSQL takes lists as array parameters, so all at once: each statement
 * costs a parse and a plan, and a write of 1,000 deployments had spent more time planning its parts of
 * 300 than running them.
 */
export function statementParts<T>(
  tx: Knex | Knex.Transaction,
  items: T[],
  sqliteSize = 500,
): T[][] {
  if (!isPostgres(tx)) return chunks(items, sqliteSize);
  return items.length > 0 ? [items] : [];
}

/** SQLite allows 999 bound parameters in older builds: stay well under. */
export function chunks<T>(items: T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    result.push(items.slice(i, i + size));
  }
  return result;
}

/** Whether `knex` talks to PostgreSQL (else SQLite). */
export function isPostgres(tx: Knex | Knex.Transaction) {
  return tx.client.config.client === 'pg';
}

/**
 * `column IN (ids)`, with its bindings. PostgreSQL takes the ids as one array parameter of `arrayType`: a
 * statement with a parameter per id took longer to parse and bind than to run. SQLite takes a list.
 */
export function inIds(
  tx: Knex | Knex.Transaction,
  column: string,
  ids: readonly number[] | readonly string[],
  arrayType = 'BIGINT',
): { sql: string; bindings: Knex.Value[] } {
  return isPostgres(tx)
    ? {
        sql: `${column} = ANY(CAST(? AS ${arrayType}[]))`,
        // The driver writes a JavaScript array as an array literal.
        bindings: [[...ids] as number[] | string[]],
      }
    : {
        sql: `${column} IN (${ids.map(() => '?').join(', ')})`,
        bindings: [...ids],
      };
}
