// @ts-check

/**
 * The rollbacks of each entity in time order, alone: the relinking looks for those at and after a range,
 * and through the entity's whole index it read every deployment since, to keep the few rollbacks.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('dora_deployments', table => {
    table.index(
      ['entity_ref', 'finished_at'],
      'dora_deployments_rollbacks_idx',
      {
        predicate: knex.whereRaw('rollback'),
      },
    );
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('dora_deployments', table => {
    table.dropIndex([], 'dora_deployments_rollbacks_idx');
  });
};
