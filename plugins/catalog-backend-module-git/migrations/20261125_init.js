// @ts-check

/**
 * What the Git provider last saw of each repository and file. Entities are kept per file, so that a file
 * that stops parsing keeps serving its last good entities instead of vanishing from the catalog.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('portico_git_repositories', table => {
    table.comment(
      'Repositories the Git provider ingests, with their last sync',
    );
    table.string('provider_id').notNullable();
    table
      .string('url', 1024)
      .notNullable()
      .comment('The remote, without credentials');
    table
      .string('synced_commit')
      .nullable()
      .comment('The commit whose files are ingested');
    table
      .string('synced_settings')
      .nullable()
      .comment(
        'Hash of the settings (branch, file globs) the commit was read with',
      );
    table.timestamp('last_success_at', { useTz: true }).nullable();
    table.timestamp('last_attempt_at', { useTz: true }).nullable();
    table
      .text('last_error')
      .nullable()
      .comment('Why the last attempt failed; null when it succeeded');
    table.primary(['provider_id', 'url']);
  });
  await knex.schema.createTable('portico_git_files', table => {
    table.comment(
      'Descriptor files of each repository, with their last good entities',
    );
    table.string('provider_id').notNullable();
    table.string('url', 1024).notNullable();
    table.string('path', 1024).notNullable();
    table
      .string('blob')
      .notNullable()
      .comment('Git blob id of the content last read');
    table
      .text('entities')
      .notNullable()
      .comment('JSON array: the last good entities of this file');
    table
      .text('dependencies')
      .notNullable()
      .comment('JSON object: blob id of each placeholder target the file read');
    table
      .text('errors')
      .notNullable()
      .comment('JSON array: problems of the current content');
    table.primary(['provider_id', 'url', 'path']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('portico_git_files');
  await knex.schema.dropTable('portico_git_repositories');
};
