// @ts-check

/**
 * Two small indexes for the relinking. The rollbacks of each entity in time order, alone: it looks for
 * those at and after a range, and through the entity's whole index it read every deployment since, to
 * keep the few rollbacks. The deployments that name the one they fixed, by its source and id: a fix
 * delivered before the deployment it fixes is linked when that one arrives.
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
    table.index(
      ['source', 'fix_of_external_id'],
      'dora_deployments_fixes_idx',
      {
        predicate: knex.whereNotNull('fix_of_external_id'),
      },
    );
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('dora_deployments', table => {
    table.dropIndex([], 'dora_deployments_rollbacks_idx');
    table.dropIndex([], 'dora_deployments_fixes_idx');
  });
};
