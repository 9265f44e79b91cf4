// @ts-check

/**
 * Which repository defines each entity ref, so that a ref defined twice stays with the repository that
 * defined it first; and when a repository was first found missing, so that it is removed only when the
 * next sync confirms it.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('portico_git_entity_refs', table => {
    table.comment('Entity refs defined by each repository of a Git provider');
    table.string('provider_id').notNullable();
    table.string('entity_ref', 1024).notNullable();
    table.string('url', 1024).notNullable();
    table
      .string('path', 1024)
      .notNullable()
      .comment('The descriptor file that defines the ref');
    table
      .timestamp('claimed_at', { useTz: true, precision: 6 })
      .notNullable()
      .comment(
        'When the repository first defined the ref; the earliest owns it',
      );
    table.primary(['provider_id', 'entity_ref', 'url']);
    table.index(['provider_id', 'url'], 'portico_git_entity_refs_url_idx');
  });
  await knex.schema.alterTable('portico_git_repositories', table => {
    table
      .timestamp('missing_since', { useTz: true })
      .nullable()
      .comment('When the server first answered that the repository is gone');
    table
      .string('synced_branch')
      .nullable()
      .comment('The branch the synced commit was read from');
  });
  // Files are now stored as parsed, without the location annotations: read every file again (a file
  // that no longer parses keeps its last entities), so that the new claims table is filled.
  await knex('portico_git_repositories').update({ synced_commit: null });
  await knex('portico_git_files').update({ blob: '' });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.alterTable('portico_git_repositories', table => {
    table.dropColumn('missing_since');
    table.dropColumn('synced_branch');
  });
  await knex.schema.dropTable('portico_git_entity_refs');
};
