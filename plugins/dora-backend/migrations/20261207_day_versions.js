// @ts-check

/**
 * Each table and the column that holds the local day its figures count under. On SQLite, knex alters
 * some columns by copying the table, which drops its triggers: a later migration that does so to these
 * tables creates them again (the migrations test checks that they exist).
 */
const TOUCHING = [
  ['dora_deployments', 'local_day'],
  ['dora_changes', 'deployed_day'],
];
const EVENTS = ['insert', 'update', 'delete'];

/**
 * A version per local day, which every write that touches the day's deployments or changes moves on.
 * Each backend keeps the per-day figures of whole days and reads again only the days whose version
 * moved: a fresh organisation summary had read a count and a sum of revisions of every change in its
 * window (a quarter of a million) to tell which days had moved, and the per-day deployment counts afresh.
 *
 * Triggers note each day a statement touches, before and after, under the writing transaction;
 * the store moves those days' versions on once, in day order, at the end of the transaction (where it
 * already replaces the data version), so that writers beside each other hold those rows only briefly.
 * The change revisions that the summaries read before are no longer read or written; their column and
 * sequence stay for replicas of the previous version during a rolling upgrade, and go in a later
 * migration.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  const postgres = knex.client.config.client === 'pg';
  await knex.schema.createTable('dora_day_versions', table => {
    table.comment(
      'How often writes have touched the deployments and changes of each local day',
    );
    table.integer('day').primary();
    table.bigInteger('version').notNullable();
  });
  await knex.schema.createTable('dora_touched_days', table => {
    table.comment(
      'Days the writing transaction touched, until it moves their versions on at its end',
    );
    table.bigInteger('tx').notNullable();
    table.integer('day').notNullable();
    table.primary(['tx', 'day']);
  });
  for (const [name, column] of TOUCHING) {
    if (postgres) await touchOnPostgres(knex, name, column);
    else await touchOnSqlite(knex, name, column);
  }
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  const postgres = knex.client.config.client === 'pg';
  for (const [name] of TOUCHING) {
    for (const event of EVENTS) {
      await knex.raw(
        `DROP TRIGGER ${name}_touch_${event}${postgres ? ` ON ${name}` : ''}`,
      );
    }
    if (postgres) await knex.raw(`DROP FUNCTION ${name}_touch_days()`);
  }
  await knex.schema.dropTable('dora_touched_days');
  await knex.schema.dropTable('dora_day_versions');
};

/**
 * Statement triggers with transition tables: one insert of the distinct days per statement, where a
 * row trigger would run once for each of a batch's thousand rows.
 *
 * @param {import('knex').Knex} knex
 * @param {string} name
 * @param {string} column
 */
async function touchOnPostgres(knex, name, column) {
  /** @param {string} rows */
  const note = rows => `INSERT INTO dora_touched_days (tx, day)
    SELECT DISTINCT txid_current(), ${column} FROM ${rows} WHERE ${column} IS NOT NULL
    ON CONFLICT DO NOTHING;`;
  await knex.raw(`CREATE FUNCTION ${name}_touch_days() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('INSERT', 'UPDATE') THEN ${note('new_rows')} END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') THEN ${note('old_rows')} END IF;
      RETURN NULL;
    END $$`);
  /** @type {Record<string, string>} */
  const referencing = {
    insert: 'NEW TABLE AS new_rows',
    update: 'OLD TABLE AS old_rows NEW TABLE AS new_rows',
    delete: 'OLD TABLE AS old_rows',
  };
  for (const event of EVENTS) {
    await knex.raw(`CREATE TRIGGER ${name}_touch_${event} AFTER ${event.toUpperCase()} ON ${name}
      REFERENCING ${
        referencing[event]
      } FOR EACH STATEMENT EXECUTE FUNCTION ${name}_touch_days()`);
  }
}

/**
 * SQLite has row triggers only; its writers take turns, so every noted day is the current writer's.
 *
 * @param {import('knex').Knex} knex
 * @param {string} name
 * @param {string} column
 */
async function touchOnSqlite(knex, name, column) {
  // Not INSERT OR IGNORE: an upsert's own conflict handling overrides that of its triggers' statements.
  /** @param {string} row */
  const note = row =>
    `INSERT INTO dora_touched_days (tx, day)
     SELECT 0, ${row}.${column} WHERE ${row}.${column} IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM dora_touched_days WHERE tx = 0 AND day = ${row}.${column});`;
  /** @type {Record<string, string[]>} */
  const rows = {
    insert: ['NEW'],
    update: ['OLD', 'NEW'],
    delete: ['OLD'],
  };
  for (const event of EVENTS) {
    await knex.raw(`CREATE TRIGGER ${name}_touch_${event} AFTER ${event.toUpperCase()} ON ${name}
      BEGIN ${rows[event].map(note).join(' ')} END`);
  }
}
