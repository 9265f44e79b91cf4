import { createMockDirectory } from '@backstage/backend-test-utils';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandShell } from './shell';

// Every temporary directory of these tests, the code's own among them, is removed after them.
createMockDirectory({ mockOsTmpDir: true });

describe('CommandShell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-shell-'));
  const shell = new CommandShell(process.env);
  const run = (args: string[], timeoutSeconds = 5) =>
    shell.run({
      command: 'sh',
      args: ['-c', ...args],
      cwd: dir,
      errorFile: join(dir, 'err'),
      timeoutSeconds,
    });

  it('passes arguments through untouched and reports exit codes and errors', async () => {
    const tricky = 'it\'s $HOME `id` "quoted"\nsecond line; exit 9';
    const code = await run([
      'printf %s "$1" > out; echo broken >&2; exit 3',
      'sh',
      tricky,
    ]);
    expect(code).toBe(3);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe(tricky);
    expect(readFileSync(join(dir, 'err'), 'utf8')).toBe('broken\n');
  });

  it('runs commands at once and stops one that overruns its time', async () => {
    const started = Date.now();
    const codes = await Promise.all([
      run(['sleep 1; exit 0']),
      run(['sleep 1; exit 1']),
      run(['sleep 30'], 1),
    ]);
    expect(codes).toEqual([0, 1, 124]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
