import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGitEnv } from './__testUtils__/gitServer';
import { PackError, parsePack } from './pack';

describe('parsePack', () => {
  const repository = mkdtempSync(join(tmpdir(), 'portico-pack-'));
  const git = (args: string[], input?: string) =>
    execFileSync('git', args, { cwd: repository, env: testGitEnv, input });
  let ids: string[];

  beforeAll(() => {
    git(['init', '--quiet', '--bare']);
    // Files that differ in a few lines, so that pack-objects stores most of them as deltas.
    const lines = Array.from(
      { length: 400 },
      (_, i) => `line ${i} ${'x'.repeat(i % 50)}`,
    );
    const blobs = Array.from({ length: 6 }, (_, version) =>
      git(
        ['hash-object', '-w', '--stdin'],
        [...lines.slice(0, 200 + version * 30), `version ${version}`].join(
          '\n',
        ),
      )
        .toString()
        .trim(),
    );
    const tree = git(
      ['mktree'],
      blobs.map((blob, i) => `100644 blob ${blob}\tfile-${i}.txt\n`).join(''),
    )
      .toString()
      .trim();
    const commit = git(['commit-tree', tree, '-m', 'files']).toString().trim();
    ids = [commit, tree, ...blobs];
  });

  afterAll(() => rmSync(repository, { recursive: true, force: true }));

  const pack = (options: string[]) =>
    git(['pack-objects', '--stdout', '--quiet', ...options], ids.join('\n'));

  it.each([
    ['offsets', ['--delta-base-offset']],
    ['object ids', []],
  ])('reads every object of a pack with deltas against %s', (_, options) => {
    const data = pack(options);
    // The pack holds deltas, or this test would not exercise them.
    const file = join(repository, 'test.pack');
    writeFileSync(file, data);
    git(['index-pack', file]);
    expect(git(['verify-pack', '-v', file]).toString()).toMatch(
      /chain length = 1: \d+ object/,
    );
    const objects = parsePack(data, 1_000_000);
    expect([...objects.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const object = objects.get(id)!;
      expect(object.type).toBe(git(['cat-file', '-t', id]).toString().trim());
      expect(object.data.equals(git(['cat-file', object.type, id]))).toBe(true);
    }
  });

  it('refuses a pack that inflates past the limit', () => {
    const zeros = git(['hash-object', '-w', '--stdin'], '\0'.repeat(2_000_000))
      .toString()
      .trim();
    const data = git(['pack-objects', '--stdout', '--quiet'], zeros);
    expect(data.length).toBeLessThan(10_000);
    expect(parsePack(data, 2_000_000).get(zeros)?.data.length).toBe(2_000_000);
    expect(() => parsePack(data, 1_000_000)).toThrow(
      new PackError('the pack inflates past 1000000 bytes'),
    );
  });

  it('refuses a pack whose bytes were altered', () => {
    const data = Buffer.from(pack(['--delta-base-offset']));
    data[40] ^= 0xff;
    expect(() => parsePack(data, 1_000_000)).toThrow(
      new PackError('the pack checksum does not match'),
    );
  });
});
