// @ts-check

/**
 * The time indexes carry the columns an organisation's summary reads, so that PostgreSQL answers it from
 * the index alone: a deployment or change row is wide (keys, refs) and its columns are read from the
 * heap at a few hundred nanoseconds a row, three times the cost of a narrow index entry. Each replaces
 * an index on the same columns without them, which every other reader uses just as well.
 * SQLite has no INCLUDE and keeps the plain indexes.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw(
    `CREATE INDEX dora_deployments_finished_at_covering ON dora_deployments (finished_at)
     INCLUDE (production, succeeded, local_day, shipped_changes, failed, recovered_at, unplanned_fix,
              rollback, fix_of, fix_of_external_id, demo)`,
  );
  await knex.raw('DROP INDEX dora_deployments_finished_at_index');
  await knex.raw('DROP INDEX dora_deployments_failed_idx');
  await knex.raw(
    `CREATE INDEX dora_deployments_failed_idx ON dora_deployments (finished_at)
     INCLUDE (production, succeeded, recovered_at) WHERE failed`,
  );
  await knex.raw(
    `CREATE INDEX dora_changes_deployed_at_covering ON dora_changes (deployed_at)
     INCLUDE (first_commit_at, merged_at)`,
  );
  await knex.raw('DROP INDEX dora_changes_deployed_at_index');
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (knex.client.config.client !== 'pg') return;
  await knex.schema.alterTable('dora_deployments', table => {
    table.index(['finished_at']);
  });
  await knex.raw('DROP INDEX dora_deployments_finished_at_covering');
  await knex.raw('DROP INDEX dora_deployments_failed_idx');
  await knex.schema.alterTable('dora_deployments', table => {
    table.index(['finished_at'], 'dora_deployments_failed_idx', {
      predicate: knex.whereRaw('failed'),
    });
  });
  await knex.schema.alterTable('dora_changes', table => {
    table.index(['deployed_at']);
  });
  await knex.raw('DROP INDEX dora_changes_deployed_at_covering');
};
