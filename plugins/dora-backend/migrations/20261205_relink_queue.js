// @ts-check

/**
 * What each write leaves to relink: its entities' time ranges and the ids it stored. A write queues it in
 * its own transaction and one relinking at a time (across replicas) takes what is queued, so the
 * relinking of several writes runs once, beside the next writes, and is never lost to a crash: what is
 * still queued at start is relinked then.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('dora_relink_queue', table => {
    table.comment('Writes whose derived links are not yet recomputed');
    table.bigIncrements('id');
    table
      .text('work')
      .notNullable()
      .comment('JSON: { ranges, deploymentIds, changeIds, incidentIds }');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('dora_relink_queue');
};
