// @ts-check

/**
 * What the summaries read, kept small: a deployment's count of shipped changes (derived, so that "had
 * commits linked" is a sum rather than a distinct count over the changes), changes reachable by scope
 * and shipping time, the failed deployments alone, and the unattributed rows alone.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('dora_deployments', table => {
    table
      .integer('shipped_changes')
      .notNullable()
      .defaultTo(0)
      .comment('Derived: the changes this deployment first shipped');
    table.index(['finished_at'], 'dora_deployments_failed_idx', {
      predicate: knex.whereRaw('failed'),
    });
    table.index(['finished_at'], 'dora_deployments_unattributed_idx', {
      predicate: knex.whereNull('entity_ref'),
    });
  });
  await knex('dora_deployments').update({
    shipped_changes: knex.raw(
      '(SELECT COUNT(*) FROM dora_changes c WHERE c.deployment_id = dora_deployments.id)',
    ),
  });
  await knex.schema.alterTable('dora_changes', table => {
    table.index(['entity_ref', 'deployed_at']);
    table.index(['owner_ref', 'deployed_at']);
    table.index(['system_ref', 'deployed_at']);
    table.index(['link_at'], 'dora_changes_unattributed_idx', {
      predicate: knex.whereNull('entity_ref'),
    });
  });
  await knex.schema.alterTable('dora_incidents', table => {
    table.index(['owner_ref', 'detected_at']);
    table.index(['system_ref', 'detected_at']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('dora_incidents', table => {
    table.dropIndex(['owner_ref', 'detected_at']);
    table.dropIndex(['system_ref', 'detected_at']);
  });
  await knex.schema.alterTable('dora_changes', table => {
    table.dropIndex(['entity_ref', 'deployed_at']);
    table.dropIndex(['owner_ref', 'deployed_at']);
    table.dropIndex(['system_ref', 'deployed_at']);
    table.dropIndex([], 'dora_changes_unattributed_idx');
  });
  await knex.schema.alterTable('dora_deployments', table => {
    table.dropIndex([], 'dora_deployments_failed_idx');
    table.dropIndex([], 'dora_deployments_unattributed_idx');
    table.dropColumn('shipped_changes');
  });
};
