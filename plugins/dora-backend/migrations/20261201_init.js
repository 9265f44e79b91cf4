// @ts-check

/**
 * DORA's events and the links between them. Times are epoch milliseconds (bigint) so that durations are
 * plain subtraction in SQL on both PostgreSQL and SQLite; `local_day` is the day number in the configured
 * time zone, fixed at ingestion, so that per-day and per-week buckets are a GROUP BY.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  /** @param {import('knex').Knex.CreateTableBuilder} table */
  const attribution = table => {
    table
      .string('entity_ref')
      .nullable()
      .comment('The catalog entity the event maps to; null when unattributed');
    table
      .string('owner_ref')
      .nullable()
      .comment(
        "The entity's owner when the event arrived: history is not rewritten",
      );
    table.string('system_ref').nullable().comment("The entity's system then");
    table
      .string('attribution_key', 512)
      .notNullable()
      .comment('What the event named, e.g. github.com/project-slug=acme/shop');
    table.boolean('demo').notNullable().defaultTo(false);
  };

  await knex.schema.createTable('dora_deployments', table => {
    table.comment(
      'Deployments, one row per deployment however often it was delivered',
    );
    table.bigIncrements('id');
    table.string('source', 32).notNullable();
    table.string('external_id', 512).notNullable();
    attribution(table);
    table.string('environment').notNullable();
    table.boolean('production').notNullable();
    table.boolean('succeeded').notNullable();
    table.bigInteger('finished_at').notNullable();
    table.integer('local_day').notNullable();
    table.string('commit_sha').nullable();
    table.string('url', 1024).nullable();
    table.boolean('rollback').notNullable().defaultTo(false);
    table
      .bigInteger('rollback_of')
      .nullable()
      .comment(
        'For a rollback: the deployment it rolled back (the previous one)',
      );
    table.boolean('unplanned_fix').notNullable().defaultTo(false);
    table
      .bigInteger('fix_of')
      .nullable()
      .comment(
        'The deployment this one fixed; that deployment counts as failed',
      );
    table
      .string('fix_of_external_id', 512)
      .nullable()
      .comment(
        'The id, in the same source, of the deployment the sender says this one fixed',
      );
    table
      .boolean('marked_failed')
      .notNullable()
      .defaultTo(false)
      .comment('A person marked it as failed');
    table
      .boolean('failed')
      .notNullable()
      .defaultTo(false)
      .comment('Derived: incident, rollback, fix or mark');
    table.bigInteger('recovered_at').nullable().comment('Derived');
    table.unique(['source', 'external_id']);
    // What a failed deployment was restored by, found from the failed one.
    table.index(['fix_of']);
    table.index(['rollback_of']);
    table.index(['finished_at']);
    table.index(['entity_ref', 'finished_at']);
    table.index(['owner_ref', 'finished_at']);
    table.index(['system_ref', 'finished_at']);
  });

  await knex.schema.createTable('dora_changes', table => {
    table.comment(
      'Changes (a merged pull request, a pushed commit) and the deployment that first shipped each',
    );
    table.bigIncrements('id');
    table
      .string('source', 32)
      .notNullable()
      .comment('The first source that sent it');
    table
      .string('change_key', 512)
      .notNullable()
      .unique()
      .comment(
        'sha:<commit> when the commit is known, so that every source of one commit meets in one row',
      );
    attribution(table);
    table.string('sha').nullable();
    table.bigInteger('first_commit_at').nullable();
    table.bigInteger('merged_at').nullable();
    table
      .bigInteger('link_at')
      .notNullable()
      .comment('When the change was ready to ship: merge, else first commit');
    table
      .boolean('explicit')
      .notNullable()
      .defaultTo(false)
      .comment(
        'Named by a deployment; shipped by the first deployment naming it',
      );
    table.bigInteger('deployment_id').nullable().comment('Derived');
    table.bigInteger('deployed_at').nullable().comment('Derived');
    table
      .integer('deployed_day')
      .nullable()
      .comment(
        "Derived: the shipping deployment's local_day, for weekly figures without a join",
      );
    table.index(['entity_ref', 'link_at']);
    table.index(['deployment_id']);
    table.index(['deployed_at']);
  });

  await knex.schema.createTable('dora_deployment_changes', table => {
    table.comment('Changes a deployment names explicitly (its commits)');
    table.bigInteger('deployment_id').notNullable();
    table.bigInteger('change_id').notNullable();
    table.primary(['deployment_id', 'change_id']);
    table.index(['change_id']);
  });

  await knex.schema.createTable('dora_incidents', table => {
    table.comment('Production incidents and the deployment that caused each');
    table.bigIncrements('id');
    table.string('source', 32).notNullable();
    table.string('external_id', 512).notNullable();
    attribution(table);
    table.string('title', 1024).nullable();
    table.string('url', 1024).nullable();
    table.bigInteger('detected_at').notNullable();
    table.bigInteger('resolved_at').nullable();
    table
      .string('deployment_source', 32)
      .nullable()
      .comment(
        'With deployment_external_id: the deployment the sender named as the cause',
      );
    table.string('deployment_external_id', 512).nullable();
    table.bigInteger('deployment_id').nullable().comment('Derived');
    table.unique(['source', 'external_id']);
    table.index(['entity_ref', 'detected_at']);
    table.index(['deployment_id']);
    table.index(['detected_at']);
  });

  await knex.schema.createTable('dora_audit', table => {
    table.comment('Who marked which deployment, and how');
    table.bigIncrements('id');
    table.bigInteger('deployment_id').notNullable();
    table.string('actor').notNullable();
    table.string('action', 32).notNullable();
    table.text('detail').nullable();
    table.bigInteger('at').notNullable();
    table.index(['deployment_id']);
  });

  await knex.schema.createTable('dora_settings', table => {
    table.comment(
      'Settings the stored rows depend on, e.g. the time zone of local_day',
    );
    table.string('key').primary();
    table.string('value').notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  for (const table of [
    'dora_settings',
    'dora_audit',
    'dora_incidents',
    'dora_deployment_changes',
    'dora_changes',
    'dora_deployments',
  ]) {
    await knex.schema.dropTable(table);
  }
};
