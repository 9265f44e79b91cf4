// Reports descriptor files that the catalog will not be able to read, naming the file, line and reason.
// Usage: node scripts/check-catalog.mjs <file or folder>...   Exit code 1 when any file is broken.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

function descriptorFiles(path) {
  if (!existsSync(path)) {
    console.error(`✗ ${path}: no such file or folder`);
    process.exitCode = 1;
    return [];
  }
  if (!statSync(path).isDirectory()) return [path];
  return (
    readdirSync(path, { recursive: true })
      .filter(name => /\.ya?ml$/.test(name))
      // Template skeletons (content/) are templated text and TechDocs sites (docs/) are mkdocs
      // projects: neither holds descriptors.
      .filter(
        name =>
          !name.split('/').some(part => part === 'content' || part === 'docs'),
      )
      .map(name => join(path, name))
  );
}

function problemsIn(file) {
  const text = readFileSync(file, 'utf8');
  const problems = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: true })) {
    for (const error of doc.errors) {
      const [line, col] = error.linePos?.[0]
        ? [error.linePos[0].line, error.linePos[0].col]
        : [0, 0];
      problems.push({
        line,
        col,
        message: error.message.split('\n')[0].replace(/:$/, ''),
      });
    }
    if (doc.errors.length) continue;
    const line = text.slice(0, doc.range[0]).split('\n').length;
    let entity;
    try {
      // A low alias budget turns an alias bomb into an error instead of exhausting memory.
      entity = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      problems.push({ line, col: 1, message: error.message });
      continue;
    }
    if (entity === null) continue;
    for (const field of ['apiVersion', 'kind']) {
      if (typeof entity?.[field] !== 'string') {
        problems.push({ line, col: 1, message: `document has no ${field}` });
      }
    }
    if (typeof entity?.metadata?.name !== 'string') {
      problems.push({ line, col: 1, message: 'document has no metadata.name' });
    }
  }
  return problems;
}

let broken = 0;
for (const file of process.argv.slice(2).flatMap(descriptorFiles)) {
  const problems = problemsIn(file);
  if (problems.length === 0) continue;
  broken += 1;
  for (const { line, col, message } of problems) {
    console.error(
      `✗ ${relative(process.cwd(), file)}:${line}:${col}: ${message}`,
    );
  }
}
if (broken > 0) {
  console.error(
    `  ${broken} descriptor file(s) cannot be read; the catalog skips them and loads everything else.`,
  );
  process.exitCode = 1;
}
