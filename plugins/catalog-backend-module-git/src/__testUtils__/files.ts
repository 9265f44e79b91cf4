import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The paths of the files anywhere under `directory`, relative to it: what a test expects a cache to have left there. */
export function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => relative(directory, join(entry.parentPath, entry.name)))
    .sort();
}
