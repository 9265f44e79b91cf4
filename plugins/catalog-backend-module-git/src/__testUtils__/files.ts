import { readdirSync } from 'node:fs';

/** The names of the files anywhere under `directory`: what a test expects a cache to have left there. */
export function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => entry.name);
}
