// @ts-check

/**
 * Each change row carries the revision of the write that last stored it: a number that grows with every
 * write transaction (a sequence on PostgreSQL, a counter in dora_settings on SQLite, whose writers take
 * turns). The count and the sum of the revisions of a day's changes then move with any write to them,
 * so a backend keeps each day's lead times and answers from them while the two stay the same. The
 * covering time index carries the day and the revision, so that check reads the index alone.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('dora_changes', table => {
    table
      .bigInteger('rev')
      .notNullable()
      .defaultTo(0)
      .comment('The revision of the write that last stored the row');
  });
  if (knex.client.config.client !== 'pg') return;
  await knex.raw('CREATE SEQUENCE dora_change_revisions');
  await knex.raw('DROP INDEX dora_changes_deployed_at_covering');
  await knex.raw(
    `CREATE INDEX dora_changes_deployed_at_covering ON dora_changes (deployed_at)
     INCLUDE (first_commit_at, merged_at, deployed_day, rev)`,
  );
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (knex.client.config.client === 'pg') {
    await knex.raw('DROP INDEX dora_changes_deployed_at_covering');
    await knex.raw('DROP SEQUENCE dora_change_revisions');
  }
  await knex.schema.alterTable('dora_changes', table => {
    table.dropColumn('rev');
  });
  if (knex.client.config.client === 'pg') {
    await knex.raw(
      `CREATE INDEX dora_changes_deployed_at_covering ON dora_changes (deployed_at)
       INCLUDE (first_commit_at, merged_at)`,
    );
  }
  await knex('dora_settings').where({ key: 'change_revision' }).delete();
};
