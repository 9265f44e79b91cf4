import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { Knex } from 'knex';
import {
  ChangeRecord,
  DeploymentRecord,
  IncidentRecord,
  IngestBatch,
  changeKey,
} from './records';
import {
  chunks,
  EntityRange,
  inIds,
  isPostgres,
  rawRows,
  relink,
  statementParts,
} from './links';
import { randomUUID } from 'node:crypto';
import { MetricQueries, RawSummary, ScopeFilter } from './metrics';
import { DAY_MS, localDay } from './days';

export interface IngestResult {
  deployments: number;
  changes: number;
  incidents: number;
}

export interface DeploymentMark {
  /** True marks the deployment failed; false takes a person's mark back (other causes stay). */
  failed?: boolean;
  /** The deployment this one fixed; null takes it back. */
  fixOf?: number | null;
}

/** The reads, as MetricQueries answers them. */
type MetricReads = Pick<
  MetricQueries,
  | 'summary'
  | 'listDeployments'
  | 'getDeployment'
  | 'listIncidents'
  | 'listUnattributed'
>;

export interface DoraStore extends MetricReads {
  /** The latest day (epoch days, UTC) with seeded demo data, per entity. */
  lastDemoDays(): Promise<Map<string, number>>;
  /** Stores a batch idempotently: a delivery seen before changes nothing, whatever the order. */
  ingest(batch: IngestBatch): Promise<IngestResult>;
  markDeployment(
    id: number,
    mark: DeploymentMark,
    actor: string,
  ): Promise<void>;
}

/** Entities share this many PostgreSQL advisory locks, so that a transaction holds a bounded number. */
const ENTITY_LOCKS = 128;
/** The first key of Portico's advisory locks on DORA entities ("dora" in ASCII). */
const ENTITY_LOCK_SPACE = 0x646f7261;
/** The lock of the relinking, beside the entities' buckets (0 to ENTITY_LOCKS - 1). */
const RELINK_LOCK = ENTITY_LOCKS;

/** Summaries kept per backend between two writes: enough for every team's page and window. */
const CACHED_SUMMARIES = 200;
/** PostgreSQL's error code for the transaction it rolled back to break a deadlock. */
const DEADLOCK_DETECTED = '40P01';
const WRITE_ATTEMPTS = 5;
/** The dora_settings key whose value changes with every write. */
const DATA_VERSION = 'data_version';

/** The columns that say which deployment shipped a change. */
interface ShippingColumns {
  deployment_id: number | null;
  deployed_at: number | null;
  deployed_day: number | null;
}

const NOT_SHIPPED: ShippingColumns = {
  deployment_id: null,
  deployed_at: null,
  deployed_day: null,
};

/** What an upsert returns of each row it wrote, for its id by its key. */
const KEYED_ID = ['id', 'source', 'external_id'];

/** The earliest and latest time a batch touched, per entity. */
class RangeCollector {
  private readonly ranges = new Map<string, EntityRange>();

  add(entityRef: string, from: number, to = from) {
    const range = this.ranges.get(entityRef);
    if (!range) this.ranges.set(entityRef, { entityRef, from, to });
    else {
      range.from = Math.min(range.from, from);
      range.to = Math.max(range.to, to);
    }
  }

  list() {
    return [...this.ranges.values()];
  }
}

interface QueuedBatch {
  batch: IngestBatch;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

/** What a write leaves to relink, queued in its own transaction (see the relink_queue migration). */
interface RelinkWork {
  ranges: EntityRange[];
  deploymentIds: number[];
  changeIds: number[];
  incidentIds: number[];
}

/** Queued writes relinked in one transaction at most: about as many records as a group of batches. */
const RELINKED_TOGETHER = 20;

/** Records written in one transaction at most, unless a single batch holds more. */
const GROUPED_RECORDS = 10_000;

/** The first queued batches, up to GROUPED_RECORDS records and at least one batch. */
function takeGroup(queue: QueuedBatch[]): QueuedBatch[] {
  let records = 0;
  let count = 0;
  while (count < queue.length) {
    const {
      deployments = [],
      changes = [],
      incidents = [],
    } = queue[count].batch;
    records += deployments.length + changes.length + incidents.length;
    if (count > 0 && records > GROUPED_RECORDS) break;
    count++;
  }
  return queue.splice(0, count);
}

/** How many distinct `keys` have an id in `ids`. */
function countIn(ids: Map<string, number>, keys: string[]): number {
  return new Set(keys.filter(key => ids.has(key))).size;
}

export class DatabaseDoraStore implements DoraStore {
  static async create(options: {
    database: DatabaseService;
    timeZone: string;
    skipMigrations?: boolean;
  }): Promise<DatabaseDoraStore> {
    const knex = await options.database.getClient();
    if (!options.database.migrations?.skip && !options.skipMigrations) {
      await knex.migrate.latest({
        directory: resolvePackagePath(
          '@internal/plugin-dora-backend',
          'migrations',
        ),
        tableName: 'dora_knex_migrations',
      });
    }
    const store = new DatabaseDoraStore(knex, options.timeZone);
    await store.applyTimeZone();
    // What a stopped backend left queued.
    await store.relinkQueued();
    return store;
  }

  private readonly metrics: MetricQueries;
  private readonly cachedSummaries = new Map<string, Promise<RawSummary>>();
  private cachedVersion?: string;
  private readonly queuedBatches: QueuedBatch[] = [];
  private writingQueue = false;
  private relinkPass?: Promise<void>;
  private nextRelinkPass?: Promise<void>;

  private constructor(
    private readonly knex: Knex,
    private readonly timeZone: string,
  ) {
    this.metrics = new MetricQueries(knex, timeZone);
  }

  private async dataVersion(): Promise<string | undefined> {
    const row = await this.knex('dora_settings')
      .where({ key: DATA_VERSION })
      .first('value');
    return row?.value;
  }

  /**
   * A write or relinking in a transaction of its own, run again when PostgreSQL rolled it back to break
   * a deadlock: a relinking updates rows that the writes beside it upsert, in another order. Every write
   * is idempotent, so running it again stores what it would have.
   */
  private async writeTransaction<T>(
    write: (tx: Knex.Transaction) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.knex.transaction(async tx => {
          if (isPostgres(tx)) {
            // The statements are index lookups that PostgreSQL reckons costly enough to compile
            // (compiling took 280 of a statement's 290 ms) and to share among parallel workers
            // (starting them took 19 ms around 3 ms of scans, and recomputing deployments halved without).
            await tx.raw(
              "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)",
            );
          }
          return write(tx);
        });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= WRITE_ATTEMPTS || code !== DEADLOCK_DETECTED) {
          throw error;
        }
        await new Promise(resolve =>
          setTimeout(resolve, attempt * 20 + Math.random() * 80),
        );
      }
    }
  }

  /**
   * Last in a write transaction, so that the row locks it takes are held only until the commit: tells
   * every replica's summaries what changed. Moves on the versions of the days the transaction's
   * statements touched (noted by the day_versions migration's triggers), in day order, so that two
   * writers never wait on each other's days crosswise, and replaces the data version. The days that
   * transactions beside the store noted (a data migration, a fix by hand), which leave their notes
   * behind, move on with them.
   */
  private async markWritten(tx: Knex.Transaction) {
    const bump = (days: string) =>
      `INSERT INTO dora_day_versions (day, version)
       SELECT DISTINCT day, 1 FROM ${days} ORDER BY day
       ON CONFLICT (day) DO UPDATE SET version = dora_day_versions.version + 1`;
    // The notes a writer sees are its own and those that ended transactions left: a running
    // transaction's are not visible yet.
    if (isPostgres(tx)) {
      // One statement, so that none is deleted without its day moving on.
      await tx.raw(
        `WITH noted AS (DELETE FROM dora_touched_days RETURNING day) ${bump(
          'noted',
        )}`,
      );
    } else {
      await tx.raw(bump('dora_touched_days'));
      await tx('dora_touched_days').delete();
    }
    await tx('dora_settings')
      .insert({ key: DATA_VERSION, value: randomUUID() })
      .onConflict('key')
      .merge();
  }

  /**
   * A summary is computed once per scope and window until the next write: the stored data version, which
   * every write transaction replaces, tells each replica when its copies are stale. The version is read
   * before computing, so a summary that raced a write is kept under the older version and not served.
   */
  summary: MetricReads['summary'] = async (filter, window) => {
    const version = await this.dataVersion();
    if (version !== this.cachedVersion) {
      this.cachedSummaries.clear();
      this.cachedVersion = version;
    }
    const key = JSON.stringify([filter, window]);
    let summary = this.cachedSummaries.get(key);
    if (!summary) {
      summary = this.metrics.summary(filter, window);
      summary.catch(() => this.cachedSummaries.delete(key));
      if (this.cachedSummaries.size >= CACHED_SUMMARIES) {
        this.cachedSummaries.delete(
          this.cachedSummaries.keys().next().value as string,
        );
      }
      this.cachedSummaries.set(key, summary);
    }
    return summary;
  };
  listDeployments: MetricReads['listDeployments'] = query =>
    this.metrics.listDeployments(query);
  getDeployment: MetricReads['getDeployment'] = id =>
    this.metrics.getDeployment(id);
  listIncidents: MetricReads['listIncidents'] = query =>
    this.metrics.listIncidents(query);
  listUnattributed: MetricReads['listUnattributed'] = () =>
    this.metrics.listUnattributed();

  /**
   * Batches that arrive while one is being written wait for it, then are written together in one
   * transaction. Batches from CI name the same entities, so they would take turns on the same locks
   * anyway. Each resolves once its relinking is done, so what a caller stored shows in the next summary;
   * meanwhile the next batches are written.
   */
  ingest(batch: IngestBatch): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.queuedBatches.push({ batch, resolve, reject });
      if (!this.writingQueue) void this.writeQueuedBatches();
    });
  }

  private async writeQueuedBatches() {
    this.writingQueue = true;
    while (this.queuedBatches.length > 0) {
      const group = takeGroup(this.queuedBatches);
      try {
        const results = await this.writeBatches(group.map(q => q.batch));
        group.forEach((queued, i) => this.resolveRelinked(queued, results[i]));
      } catch (error) {
        if (group.length === 1) group[0].reject(error);
        // A batch the database refuses must not fail the others: each is written alone.
        else {
          for (const queued of group) {
            await this.writeBatches([queued.batch]).then(
              ([result]) => this.resolveRelinked(queued, result),
              queued.reject,
            );
          }
        }
      }
    }
    this.writingQueue = false;
  }

  /** Stores `batches` in one transaction, as if one after another; returns what each one stored. */
  private async writeBatches(batches: IngestBatch[]): Promise<IngestResult[]> {
    const batch: Required<IngestBatch> = {
      deployments: batches.flatMap(b => b.deployments ?? []),
      changes: batches.flatMap(b => b.changes ?? []),
      incidents: batches.flatMap(b => b.incidents ?? []),
    };
    const ids = await this.writeTransaction(async tx => {
      await takeTurnsOn(tx, [
        ...batch.deployments,
        ...batch.changes,
        ...batch.incidents,
      ]);
      const ranges = new RangeCollector();
      const deliveries = batch.deployments;
      const deployments = latestDeliveries(deliveries);
      const changes = mergedChanges([
        ...batch.changes,
        ...deliveries.flatMap(namedChanges),
      ]);
      const storedDeployments = await selectStored(
        tx,
        [...deployments.values()],
        part => selectByKeys(tx, 'dora_deployments', part),
      );
      const storedChanges = await selectStored(
        tx,
        [...changes.keys()],
        async part => {
          const where = inIds(tx, 'change_key', part, 'VARCHAR(512)');
          return new Map(
            (await tx('dora_changes').whereRaw(where.sql, where.bindings)).map(
              row => [row.change_key as string, fromStoredChange(row)],
            ),
          );
        },
      );
      const shippers = firstShippers(
        deliveries,
        deployments,
        storedDeployments,
        storedChanges,
      );
      const deploymentIds = await this.upsertDeployments(
        tx,
        deployments,
        storedDeployments,
        shippers,
        ranges,
      );
      const changeIds = await this.upsertChanges(
        tx,
        changes,
        storedChanges,
        shipped => {
          const deployment = shippers.get(shipped);
          if (!deployment) return NOT_SHIPPED;
          const id = deploymentIds.get(keyOf(deployment));
          return id === undefined
            ? NOT_SHIPPED
            : {
                deployment_id: id,
                deployed_at: wholeMs(deployment.finishedAt),
                deployed_day: localDay(deployment.finishedAt, this.timeZone),
              };
        },
        ranges,
      );
      await this.linkNamedChanges(tx, deliveries, deploymentIds, changeIds);
      const incidentIds = await this.upsertIncidents(
        tx,
        batch.incidents,
        ranges,
      );
      await queueRelink(tx, {
        ranges: ranges.list(),
        deploymentIds: [...deploymentIds.values()],
        changeIds: [...changeIds.values()],
        incidentIds: [...incidentIds.values()],
      });
      await this.markWritten(tx);
      return { deploymentIds, changeIds, incidentIds };
    });
    return batches.map(one => ({
      deployments: countIn(
        ids.deploymentIds,
        (one.deployments ?? []).map(keyOf),
      ),
      changes: countIn(
        ids.changeIds,
        [
          ...(one.changes ?? []),
          ...(one.deployments ?? []).flatMap(namedChanges),
        ].map(changeKey),
      ),
      incidents: countIn(ids.incidentIds, (one.incidents ?? []).map(keyOf)),
    }));
  }

  async lastDemoDays(): Promise<Map<string, number>> {
    const rows = await this.knex('dora_deployments')
      .where({ demo: true })
      .whereNotNull('entity_ref')
      .groupBy('entity_ref')
      .select('entity_ref', this.knex.raw('MAX(finished_at) AS latest'));
    return new Map(
      rows.map(row => [
        row.entity_ref,
        Math.floor(Number(row.latest) / DAY_MS),
      ]),
    );
  }

  async markDeployment(id: number, mark: DeploymentMark, actor: string) {
    await this.writeTransaction(async tx => {
      const deployment = await tx('dora_deployments').where({ id }).first();
      if (!deployment) throw new NotFoundError(`no deployment ${id}`);
      await takeTurnsOn(tx, [
        { attribution: { entityRef: deployment.entity_ref ?? undefined } },
      ]);
      const update: Record<string, unknown> = {};
      if (mark.failed !== undefined) update.marked_failed = mark.failed;
      if (mark.fixOf !== undefined) {
        if (mark.fixOf !== null) {
          const fixed = await tx('dora_deployments')
            .where({ id: mark.fixOf })
            .first('id');
          if (!fixed) throw new NotFoundError(`no deployment ${mark.fixOf}`);
        }
        update.fix_of = mark.fixOf;
        update.fix_of_external_id = null;
      }
      await tx('dora_deployments').where({ id }).update(update);
      await tx('dora_audit').insert({
        deployment_id: id,
        actor,
        action: mark.failed !== undefined ? 'mark-failed' : 'mark-fix',
        detail: JSON.stringify(mark),
        at: Date.now(),
      });
      const affected = [id, deployment.fix_of, mark.fixOf]
        .filter(value => value !== null && value !== undefined)
        .map(Number);
      await queueRelink(tx, {
        ranges: [],
        deploymentIds: affected,
        changeIds: [],
        incidentIds: [],
      });
      await this.markWritten(tx);
    });
    await this.relinkQueued();
  }

  private resolveRelinked(queued: QueuedBatch, result: IngestResult) {
    this.relinkQueued().then(() => queued.resolve(result), queued.reject);
  }

  /**
   * Relinks what is queued. Resolves when a pass that began after the call has finished, so a caller's
   * own queued work, committed before it called, is relinked by then; callers during a pass share the next.
   */
  relinkQueued(): Promise<void> {
    if (!this.relinkPass) {
      const pass = this.relinkAll().finally(() => {
        if (this.relinkPass === pass) this.relinkPass = undefined;
      });
      this.relinkPass = pass;
      return pass;
    }
    this.nextRelinkPass ??= this.relinkPass
      .catch(() => undefined)
      .then(() => {
        this.nextRelinkPass = undefined;
        return this.relinkQueued();
      });
    return this.nextRelinkPass;
  }

  /** Relinks everything queued when it starts, a few writes per transaction. */
  private async relinkAll() {
    const [{ last }] = await this.knex('dora_relink_queue').max({
      last: 'id',
    });
    if (last === null || last === undefined) return;
    while (
      await this.writeTransaction(tx => this.relinkSome(tx, Number(last)))
    ) {
      // Each transaction takes the next queued writes up to `last`.
    }
  }

  /** Relinks the first queued writes up to `last` together; false when none were left. */
  private async relinkSome(tx: Knex.Transaction, last: number) {
    if (isPostgres(tx)) {
      // One relinking at a time, across replicas: each sees what the one before it wrote.
      await tx.raw('SELECT pg_advisory_xact_lock(?, ?)', [
        ENTITY_LOCK_SPACE,
        RELINK_LOCK,
      ]);
    }
    const rows: { id: number | string; work: string }[] = await tx(
      'dora_relink_queue',
    )
      .where('id', '<=', last)
      .orderBy('id')
      .limit(RELINKED_TOGETHER);
    if (rows.length === 0) return false;
    const ranges = new RangeCollector();
    const deploymentIds = new Set<number>();
    const changeIds = new Set<number>();
    const incidentIds = new Set<number>();
    for (const row of rows) {
      const work: RelinkWork = JSON.parse(row.work);
      for (const range of work.ranges) {
        ranges.add(range.entityRef, range.from, range.to);
      }
      work.deploymentIds.forEach(id => deploymentIds.add(id));
      work.changeIds.forEach(id => changeIds.add(id));
      work.incidentIds.forEach(id => incidentIds.add(id));
    }
    await relink(tx, ranges.list(), {
      deploymentIds: [...deploymentIds],
      changeIds: [...changeIds],
      incidentIds: [...incidentIds],
    });
    await tx('dora_relink_queue')
      .whereIn(
        'id',
        rows.map(row => row.id),
      )
      .delete();
    await this.markWritten(tx);
    return true;
  }

  /**
   * Stores the deliveries newer than what is stored. A new deployment comes with the number of new
   * changes it first shipped, so that relinking finds it right and writes the row only once.
   */
  private async upsertDeployments(
    tx: Knex.Transaction,
    deployments: Map<string, DeploymentRecord>,
    stored: Map<string, any>,
    shippers: Map<string, DeploymentRecord>,
    ranges: RangeCollector,
  ): Promise<Map<string, number>> {
    const shippedAtInsert = new Map<DeploymentRecord, number>();
    for (const deployment of shippers.values()) {
      shippedAtInsert.set(
        deployment,
        (shippedAtInsert.get(deployment) ?? 0) + 1,
      );
    }
    const ids = new Map<string, number>();
    const rows = [...deployments.values()]
      .filter(record => {
        const known = stored.get(keyOf(record));
        return !known || Number(known.finished_at) <= record.finishedAt;
      })
      .map(record => ({
        source: record.source,
        external_id: record.externalId,
        ...attributionColumns(record),
        environment: record.environment,
        production: record.production,
        succeeded: record.succeeded,
        finished_at: wholeMs(record.finishedAt),
        local_day: localDay(record.finishedAt, this.timeZone),
        commit_sha: record.commitSha ?? null,
        url: record.url ?? null,
        rollback: record.rollback ?? false,
        unplanned_fix: record.unplannedFix ?? false,
        fix_of_external_id: record.fixOf ?? null,
        shipped_changes: shippedAtInsert.get(record) ?? 0,
      }));
    for (const record of deployments.values()) {
      const known = stored.get(keyOf(record));
      if (known) ids.set(keyOf(record), Number(known.id));
      if (known?.entity_ref) {
        ranges.add(known.entity_ref, Number(known.finished_at));
      }
      if (record.attribution.entityRef) {
        ranges.add(record.attribution.entityRef, record.finishedAt);
      }
    }
    const written = await upsertRows(tx, 'dora_deployments', rows, {
      conflict: ['source', 'external_id'],
      // A stored deployment's count is the relinking's to change.
      update: columnsBut(rows[0] ?? {}, 'shipped_changes'),
      returning: KEYED_ID,
    });
    for (const [key, id] of idsByKey(written)) ids.set(key, id);
    return ids;
  }

  /** Stores the changes, a new one with the deployment that first shipped it where that is known. */
  private async upsertChanges(
    tx: Knex.Transaction,
    changes: Map<string, ChangeRow>,
    stored: Map<string, ChangeRow>,
    shipping: (changeKey: string) => ShippingColumns,
    ranges: RangeCollector,
  ): Promise<Map<string, number>> {
    const rows = [...changes.values()].map(row => {
      const known = stored.get(row.change_key);
      return known
        ? { ...mergeChange(known, row), ...NOT_SHIPPED }
        : { ...row, ...shipping(row.change_key) };
    });
    for (const row of rows) {
      if (row.entity_ref) ranges.add(row.entity_ref, row.link_at);
    }
    const written = await upsertRows(tx, 'dora_changes', rows, {
      conflict: ['change_key'],
      // Which deployment shipped a stored change is the relinking's to change.
      update: columnsBut(rows[0] ?? {}, ...Object.keys(NOT_SHIPPED)),
      returning: ['id', 'change_key'],
    });
    return new Map(written.map(row => [row.change_key, Number(row.id)]));
  }

  /** The commits a deployment lists are the changes it shipped; ids as the upserts just stored them. */
  private async linkNamedChanges(
    tx: Knex.Transaction,
    deployments: DeploymentRecord[],
    deploymentIds: Map<string, number>,
    changeIds: Map<string, number>,
  ) {
    const rows = deployments.flatMap(deployment =>
      (deployment.commits ?? []).flatMap(commit => {
        const deploymentId = deploymentIds.get(keyOf(deployment));
        const changeId = changeIds.get(
          changeKey({ source: deployment.source, sha: commit.sha }),
        );
        return deploymentId !== undefined && changeId !== undefined
          ? [{ deployment_id: deploymentId, change_id: changeId }]
          : [];
      }),
    );
    await upsertRows(tx, 'dora_deployment_changes', rows, {
      conflict: ['deployment_id', 'change_id'],
      update: [],
    });
  }

  private async upsertIncidents(
    tx: Knex.Transaction,
    records: IncidentRecord[],
    ranges: RangeCollector,
  ): Promise<Map<string, number>> {
    const merged = new Map<string, IncidentRow>();
    for (const record of records) {
      const row = toIncidentRow(record);
      merged.set(keyOf(record), mergeIncident(merged.get(keyOf(record)), row));
    }
    const ids = new Map<string, number>();
    for (const batch of statementParts(tx, [...merged.values()], 200)) {
      const keyed = batch.map(row => ({
        source: row.source,
        externalId: row.external_id,
      }));
      const existing = await selectByKeys(tx, 'dora_incidents', keyed);
      const rows = batch.map(row => {
        const stored = existing.get(`${row.source}\u0000${row.external_id}`);
        return mergeIncident(stored && fromStoredIncident(stored), row);
      });
      for (const row of rows) {
        if (row.entity_ref) ranges.add(row.entity_ref, row.detected_at);
      }
      const written = await upsertRows(tx, 'dora_incidents', rows, {
        conflict: ['source', 'external_id'],
        update: Object.keys(rows[0]),
        returning: KEYED_ID,
      });
      for (const [key, id] of idsByKey(written)) ids.set(key, id);
    }
    return ids;
  }

  /** `local_day` follows the configured zone: when it changed, every stored day is computed again. */
  private async applyTimeZone() {
    const stored = await this.knex('dora_settings')
      .where({ key: 'time_zone' })
      .first('value');
    if (stored?.value === this.timeZone) return;
    await this.knex.transaction(async tx => {
      let after = 0;
      for (;;) {
        const rows = await tx('dora_deployments')
          .where('id', '>', after)
          .orderBy('id')
          .limit(1000)
          .select('id', 'finished_at');
        if (rows.length === 0) break;
        for (const row of rows) {
          await tx('dora_deployments')
            .where({ id: row.id })
            .update({
              local_day: localDay(Number(row.finished_at), this.timeZone),
            });
        }
        after = Number(rows[rows.length - 1].id);
      }
      await tx.raw(
        `UPDATE dora_changes SET deployed_day = (
           SELECT d.local_day FROM dora_deployments d WHERE d.id = dora_changes.deployment_id)
         WHERE deployment_id IS NOT NULL`,
      );
      await tx('dora_settings')
        .insert({ key: 'time_zone', value: this.timeZone })
        .onConflict('key')
        .merge();
      await this.markWritten(tx);
    });
  }
}

interface Keyed {
  source: string;
  externalId: string;
}

function keyOf(record: Keyed) {
  return `${record.source}\u0000${record.externalId}`;
}

/**
 * The stored rows of `records`, by their key: the keys as a table of values joined to the unique index,
 * one lookup each. As an IN list the planner goes by the source's statistics, and a source that is new
 * since they were gathered looks too rare to use the index for its ids.
 */
async function selectByKeys(
  tx: Knex.Transaction,
  table: string,
  records: Keyed[],
): Promise<Map<string, any>> {
  if (records.length === 0) return new Map();
  // PostgreSQL takes the keys as two array parameters (see `inIds`).
  const keys = isPostgres(tx)
    ? {
        sql: 'SELECT * FROM unnest(CAST(? AS VARCHAR(32)[]), CAST(? AS VARCHAR(512)[]))',
        bindings: [
          records.map(record => record.source),
          records.map(record => record.externalId),
        ],
      }
    : {
        sql: `VALUES ${records
          .map(() => '(CAST(? AS VARCHAR(32)), CAST(? AS VARCHAR(512)))')
          .join(', ')}`,
        bindings: records.flatMap(record => [record.source, record.externalId]),
      };
  const rows = await rawRows(
    tx,
    `WITH k(source, external_id) AS (${keys.sql})
     SELECT t.* FROM k
     JOIN ${table} t ON t.source = k.source AND t.external_id = k.external_id`,
    keys.bindings,
  );
  return new Map(
    rows.map(row => [
      keyOf({ source: row.source, externalId: row.external_id }),
      row,
    ]),
  );
}

/** The ids of rows an upsert returned, by their key. */
function idsByKey(
  rows: { id: unknown; source: string; external_id: string }[],
): Map<string, number> {
  return new Map(
    rows.map(row => [
      keyOf({ source: row.source, externalId: row.external_id }),
      Number(row.id),
    ]),
  );
}

/**
 * Inserts `rows` into `table`, sets the `update` columns of a row whose `conflict` key is stored (none:
 * the stored row stays), and returns the `returning` columns of the rows written. PostgreSQL takes all
 * the rows as one JSON parameter, typed by the table's row type: as a list of values, 200 rows were
 * 3,400 parameters, which took longer to parse and bind than to insert.
 */
async function upsertRows(
  tx: Knex.Transaction,
  table: string,
  rows: object[],
  options: { conflict: string[]; update: string[]; returning?: string[] },
): Promise<any[]> {
  if (rows.length === 0) return [];
  if (isPostgres(tx)) {
    const quoted = (columns: string[]) => columns.map(c => `"${c}"`).join(', ');
    const columns = quoted(Object.keys(rows[0]));
    const onConflict =
      options.update.length > 0
        ? `DO UPDATE SET ${options.update
            .map(c => `"${c}" = EXCLUDED."${c}"`)
            .join(', ')}`
        : 'DO NOTHING';
    return rawRows(
      tx,
      `INSERT INTO ${table} (${columns})
       SELECT ${columns} FROM json_populate_recordset(NULL::${table}, ?)
       ON CONFLICT (${quoted(options.conflict)}) ${onConflict}
       ${options.returning ? `RETURNING ${quoted(options.returning)}` : ''}`,
      [JSON.stringify(rows)],
    );
  }
  const written: any[] = [];
  for (const part of chunks(rows, 200)) {
    const insert = tx(table).insert(part).onConflict(options.conflict);
    const query =
      options.update.length > 0
        ? insert.merge(options.update)
        : insert.ignore();
    if (options.returning)
      written.push(...(await query.returning(options.returning)));
    else await query;
  }
  return written;
}

/** Columns hold whole milliseconds, whatever a source sent. */
function wholeMs(value: number): number;
function wholeMs(value?: number): number | undefined;
function wholeMs(value?: number) {
  return value === undefined ? undefined : Math.round(value);
}

function attributionColumns(record: {
  attribution: DeploymentRecord['attribution'];
  demo?: boolean;
}) {
  return {
    entity_ref: record.attribution.entityRef ?? null,
    owner_ref: record.attribution.ownerRef ?? null,
    system_ref: record.attribution.systemRef ?? null,
    attribution_key: record.attribution.key,
    demo: record.demo ?? false,
  };
}

/** Leaves `work` for the relinking, in the write's own transaction. */
async function queueRelink(tx: Knex.Transaction, work: RelinkWork) {
  await tx('dora_relink_queue').insert({ work: JSON.stringify(work) });
}

/**
 * Concurrent writes for the same entities (from two replicas) take turns on PostgreSQL, so that their
 * upserts of the same rows neither deadlock nor write over each other's merges. Locks are taken in one
 * order, by bucket of entity, at the start of the transaction. The relinking, which each write queues,
 * runs one at a time (RELINK_LOCK): two beside each other would each see neither the other's
 * deployments nor its links.
 */
async function takeTurnsOn(
  tx: Knex.Transaction,
  records: { attribution: { entityRef?: string; key?: string } }[],
) {
  if (!isPostgres(tx)) return;
  const buckets = new Set<number>();
  // An unattributed record's rows are merged too: it takes turns by what it named.
  for (const { attribution } of records) {
    const name = attribution.entityRef ?? attribution.key;
    if (name) buckets.add(bucketOf(name));
  }
  if (buckets.size === 0) return;
  // unnest yields the sorted keys in order, so every transaction locks in the same order.
  await tx.raw(
    'SELECT pg_advisory_xact_lock(?, k) FROM unnest(?::int[]) AS k',
    [ENTITY_LOCK_SPACE, [...buckets].sort((a, b) => a - b)],
  );
}

/** FNV-1a of an entity ref or attribution key, in one of ENTITY_LOCKS buckets. */
function bucketOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  }
  return (hash >>> 0) % ENTITY_LOCKS;
}

/** Of two deliveries of one deployment, the later status wins: an older one arriving late changes nothing. */
function latestDeliveries(
  records: DeploymentRecord[],
): Map<string, DeploymentRecord> {
  const latest = new Map<string, DeploymentRecord>();
  for (const record of records) {
    const key = keyOf(record);
    const seen = latest.get(key);
    if (!seen || seen.finishedAt <= record.finishedAt) latest.set(key, record);
  }
  return latest;
}

/** One row per commit, whichever sources sent it: times merge to the earliest known. */
function mergedChanges(
  records: (ChangeRecord & { explicit?: boolean })[],
): Map<string, ChangeRow> {
  const merged = new Map<string, ChangeRow>();
  for (const record of records) {
    const key = changeKey(record);
    merged.set(key, mergeChange(merged.get(key), toChangeRow(key, record)));
  }
  return merged;
}

/** The stored rows of `keys`, looked up in one statement (a few hundred at a time on SQLite). */
async function selectStored<K, V>(
  tx: Knex.Transaction,
  keys: K[],
  select: (part: K[]) => Promise<Map<string, V>>,
): Promise<Map<string, V>> {
  const stored = new Map<string, V>();
  for (const part of statementParts(tx, keys, 200)) {
    for (const [key, row] of await select(part)) stored.set(key, row);
  }
  return stored;
}

/**
 * The deployment that first shipped each new change the batch names, where only new deployments name
 * it: nothing stored links to a new change, so the first successful production one of them shipped it.
 * A change a stored deployment names, or two name at the same time, is left to the relinking.
 */
function firstShippers(
  deliveries: DeploymentRecord[],
  latest: Map<string, DeploymentRecord>,
  storedDeployments: Map<string, unknown>,
  storedChanges: Map<string, unknown>,
): Map<string, DeploymentRecord> {
  const first = new Map<string, DeploymentRecord | 'relink'>();
  for (const delivery of deliveries) {
    const key = keyOf(delivery);
    const deployment = latest.get(key) as DeploymentRecord;
    for (const commit of delivery.commits ?? []) {
      const change = changeKey({ source: delivery.source, sha: commit.sha });
      const seen = first.get(change);
      if (storedChanges.has(change) || seen === 'relink') continue;
      if (storedDeployments.has(key)) first.set(change, 'relink');
      else if (!deployment.production || !deployment.succeeded) continue;
      else if (!seen || seen === deployment) first.set(change, deployment);
      else {
        const at = wholeMs(deployment.finishedAt);
        const seenAt = wholeMs(seen.finishedAt);
        if (at === seenAt) first.set(change, 'relink');
        else if (at < seenAt) first.set(change, deployment);
      }
    }
  }
  const shippers = new Map<string, DeploymentRecord>();
  for (const [change, deployment] of first) {
    if (deployment !== 'relink') shippers.set(change, deployment);
  }
  return shippers;
}

/** The columns of `row` an upsert updates on conflict: all but `kept`. */
function columnsBut(row: object, ...kept: string[]): string[] {
  return Object.keys(row).filter(column => !kept.includes(column));
}

function namedChanges(
  deployment: DeploymentRecord,
): (ChangeRecord & { explicit: boolean })[] {
  return (deployment.commits ?? []).map(commit => ({
    source: deployment.source,
    sha: commit.sha,
    attribution: deployment.attribution,
    firstCommitAt: commit.committedAt,
    demo: deployment.demo,
    explicit: true,
  }));
}

interface ChangeRow {
  source: string;
  change_key: string;
  entity_ref: string | null;
  owner_ref: string | null;
  system_ref: string | null;
  attribution_key: string;
  demo: boolean;
  sha: string | null;
  first_commit_at: number | null;
  merged_at: number | null;
  link_at: number;
  explicit: boolean;
}

function toChangeRow(
  key: string,
  record: ChangeRecord & { explicit?: boolean },
): ChangeRow {
  const linkAt = wholeMs(record.mergedAt ?? record.firstCommitAt);
  if (linkAt === undefined) {
    throw new Error(`change ${key} has neither a commit nor a merge time`);
  }
  return {
    source: record.source,
    change_key: key,
    ...attributionColumns(record),
    sha: record.sha?.toLowerCase() ?? null,
    first_commit_at: wholeMs(record.firstCommitAt) ?? null,
    merged_at: wholeMs(record.mergedAt) ?? null,
    link_at: linkAt,
    explicit: record.explicit ?? false,
  };
}

function fromStoredChange(row: any): ChangeRow {
  const num = (value: unknown) => (value === null ? null : Number(value));
  return {
    source: row.source,
    change_key: row.change_key,
    entity_ref: row.entity_ref,
    owner_ref: row.owner_ref,
    system_ref: row.system_ref,
    attribution_key: row.attribution_key,
    demo: Boolean(row.demo),
    sha: row.sha,
    first_commit_at: num(row.first_commit_at),
    merged_at: num(row.merged_at),
    link_at: Number(row.link_at),
    explicit: Boolean(row.explicit),
  };
}

function earliest(a: number | null, b: number | null) {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/** The first source and attribution stay; times become the earliest either knew. */
function mergeChange(
  stored: ChangeRow | undefined,
  next: ChangeRow,
): ChangeRow {
  if (!stored) return next;
  const firstCommitAt = earliest(stored.first_commit_at, next.first_commit_at);
  const mergedAt = earliest(stored.merged_at, next.merged_at);
  const attributed = stored.entity_ref ? stored : next;
  return {
    ...stored,
    entity_ref: attributed.entity_ref,
    owner_ref: attributed.owner_ref,
    system_ref: attributed.system_ref,
    attribution_key: attributed.attribution_key,
    sha: stored.sha ?? next.sha,
    first_commit_at: firstCommitAt,
    merged_at: mergedAt,
    link_at: (mergedAt ?? firstCommitAt) as number,
    explicit: stored.explicit || next.explicit,
  };
}

interface IncidentRow {
  source: string;
  external_id: string;
  entity_ref: string | null;
  owner_ref: string | null;
  system_ref: string | null;
  attribution_key: string;
  demo: boolean;
  title: string | null;
  url: string | null;
  detected_at: number;
  resolved_at: number | null;
  reopened_at: number | null;
  deployment_source: string | null;
  deployment_external_id: string | null;
}

function toIncidentRow(record: IncidentRecord): IncidentRow {
  const detectedAt = wholeMs(
    record.detectedAt ?? record.resolvedAt ?? record.reopenedAt,
  );
  if (detectedAt === undefined) {
    throw new Error(`incident ${record.externalId} has no time`);
  }
  return {
    source: record.source,
    external_id: record.externalId,
    ...attributionColumns(record),
    title: record.title ?? null,
    url: record.url ?? null,
    detected_at: detectedAt,
    resolved_at: wholeMs(record.resolvedAt) ?? null,
    reopened_at: wholeMs(record.reopenedAt) ?? null,
    deployment_source: record.cause?.source ?? null,
    deployment_external_id: record.cause?.externalId ?? null,
  };
}

function fromStoredIncident(row: any): IncidentRow {
  return {
    source: row.source,
    external_id: row.external_id,
    entity_ref: row.entity_ref,
    owner_ref: row.owner_ref,
    system_ref: row.system_ref,
    attribution_key: row.attribution_key,
    demo: Boolean(row.demo),
    title: row.title,
    url: row.url,
    detected_at: Number(row.detected_at),
    resolved_at: row.resolved_at === null ? null : Number(row.resolved_at),
    reopened_at: row.reopened_at === null ? null : Number(row.reopened_at),
    deployment_source: row.deployment_source,
    deployment_external_id: row.deployment_external_id,
  };
}

/** The later of two times, either of which may be unknown. */
const later = (a: number | null, b: number | null) =>
  a === null || b === null ? a ?? b : Math.max(a, b);

/**
 * Detection is the earliest time heard, resolution the latest unless a reopening came after it; other
 * fields keep what was first known.
 */
function mergeIncident(
  stored: IncidentRow | undefined,
  next: IncidentRow,
): IncidentRow {
  if (!stored) return next;
  const attributed = stored.entity_ref ? stored : next;
  const reopenedAt = later(stored.reopened_at, next.reopened_at);
  const resolvedAt = later(stored.resolved_at, next.resolved_at);
  return {
    ...stored,
    entity_ref: attributed.entity_ref,
    owner_ref: attributed.owner_ref,
    system_ref: attributed.system_ref,
    attribution_key: attributed.attribution_key,
    title: stored.title ?? next.title,
    url: stored.url ?? next.url,
    detected_at: Math.min(stored.detected_at, next.detected_at),
    resolved_at:
      resolvedAt !== null && (reopenedAt === null || resolvedAt > reopenedAt)
        ? resolvedAt
        : null,
    reopened_at: reopenedAt,
    deployment_source: stored.deployment_source ?? next.deployment_source,
    deployment_external_id:
      stored.deployment_external_id ?? next.deployment_external_id,
  };
}

export type { ScopeFilter };
