// @ts-check

/**
 * When an incident was last reopened (PagerDuty's `incident.reopened`): a resolution heard before then
 * does not count, whatever order the deliveries came in, and the incident is open until one after it.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('dora_incidents', table => {
    table.bigInteger('reopened_at').nullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('dora_incidents', table => {
    table.dropColumn('reopened_at');
  });
};
