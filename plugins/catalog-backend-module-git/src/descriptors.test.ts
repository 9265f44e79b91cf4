import { entityEnvelopeSchemaValidator } from '@backstage/catalog-model';
import {
  DEFAULT_MAX_DESCRIPTOR_BYTES,
  DEFAULT_MAX_TARGET_BYTES,
  parseDescriptor,
  ReadRepositoryFile,
} from './descriptors';

function repository(files: Record<string, string> = {}) {
  const contents = new Map(Object.entries(files));
  return jest.fn<
    ReturnType<ReadRepositoryFile>,
    Parameters<ReadRepositoryFile>
  >(async path => {
    const text = contents.get(path);
    return text === undefined ? undefined : Buffer.from(text, 'utf8');
  });
}

function parse(
  descriptor: string | Buffer,
  options: {
    path?: string;
    readFile?: ReadRepositoryFile;
    maxBytes?: number;
    maxTargetBytes?: number;
    pathOfUrl?: (url: string) => string | undefined;
  } = {},
) {
  return parseDescriptor({
    path: options.path ?? 'catalog-info.yaml',
    content: Buffer.isBuffer(descriptor)
      ? descriptor
      : Buffer.from(descriptor, 'utf8'),
    readFile: options.readFile ?? repository(),
    maxBytes: options.maxBytes,
    maxTargetBytes: options.maxTargetBytes,
    pathOfUrl: options.pathOfUrl,
  });
}

/** A Component entity; `spec` lines are appended under spec, from line 7. */
function component(name: string, spec = '') {
  return `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: service
${spec.replace(/^(?=.)/gm, '  ')}`;
}

describe('parseDescriptor', () => {
  it('returns the entity of a single-document descriptor', async () => {
    await expect(parse(component('a'))).resolves.toEqual({
      entities: [
        {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: { name: 'a' },
          spec: { type: 'service' },
        },
      ],
      errors: [],
    });
  });

  it('reads a CRLF multi-document file with a byte order mark', async () => {
    const text = `\uFEFF${component('a')}---\n${component('b')}`.replace(
      /\n/g,
      '\r\n',
    );

    const result = await parse(text);

    expect(result.errors).toEqual([]);
    expect(result.entities.map(e => e.metadata.name)).toEqual(['a', 'b']);
    expect(Object.keys(result.entities[0])[0]).toBe('apiVersion');
  });

  it('skips empty documents silently', async () => {
    const result = await parse(
      `---\n# nothing here\n---\n${component('a')}---\n---\n~\n`,
    );

    expect(result).toEqual({ entities: [expect.anything()], errors: [] });
    await expect(parse('# only a comment\n')).resolves.toEqual({
      entities: [],
      errors: [],
    });
  });

  it('accepts custom kinds', async () => {
    const result = await parse(
      'apiVersion: example.com/v1\nkind: Workflow\nmetadata:\n  name: nightly\n',
    );

    expect(result.errors).toEqual([]);
    expect(result.entities).toEqual([
      {
        apiVersion: 'example.com/v1',
        kind: 'Workflow',
        metadata: { name: 'nightly' },
      },
    ]);
  });

  it('reports broken YAML with its line number', async () => {
    const result = await parse(
      'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a: b\n',
    );

    expect(result.entities).toEqual([]);
    expect(result.errors).toEqual([
      { file: 'catalog-info.yaml', line: 4, message: expect.any(String) },
    ]);
    expect(result.errors[0].message).not.toContain('\n');
  });

  it.each([
    ['apiVersion', 'kind: Component\nmetadata:\n  name: a\n'],
    ['kind', 'apiVersion: v1\nmetadata:\n  name: a\n'],
    [
      'metadata.name',
      'apiVersion: v1\nkind: Component\nmetadata:\n  title: A\n',
    ],
  ])(
    'reports a document without %s and the line it starts on, and reads the others',
    async (missing, document) => {
      const result = await parse(`${component('a')}---\n${document}`);

      expect(result).toEqual({
        entities: [expect.objectContaining({ metadata: { name: 'a' } })],
        errors: [
          {
            file: 'catalog-info.yaml',
            line: 7,
            message: `document starting at line 7 is missing ${missing}`,
          },
        ],
      });
    },
  );

  it.each([
    [
      'metadata:\n  name: 2048',
      4,
      'has metadata.name 2048, a number: quote it to make it a string',
    ],
    [
      'metadata:\n  name: { first: a }',
      4,
      'has metadata.name as a mapping: it must be a string',
    ],
    [
      'metadata:\n  name: a\n  annotations:\n    - backstage.io/techdocs-ref: dir:.',
      5,
      'has metadata.annotations as a sequence: write it as a mapping of names to strings',
    ],
    [
      'metadata: my-service',
      3,
      'has metadata as a string: it must be a mapping with a name',
    ],
    [
      'metadata:\n  name: a\n  namespace:',
      5,
      'has an empty metadata.namespace: name one, or leave the key out for the default',
    ],
    [
      'metadata:\n  name: a\n  namespace: ""',
      5,
      'has an empty metadata.namespace: name one, or leave the key out for the default',
    ],
    [
      'metadata:\n  name: a\n  namespace: 2024',
      5,
      'has metadata.namespace 2024, a number: quote it to make it a string',
    ],
    [
      'metadata:\n  name: a\n  namespace: [a, b]',
      5,
      'has metadata.namespace as a sequence: it must be a string',
    ],
  ])(
    'says what to fix in a document with %j, at its line',
    async (lines, line, problem) => {
      const result = await parse(`apiVersion: v1\nkind: Component\n${lines}\n`);

      expect(result).toEqual({
        entities: [],
        errors: [
          {
            file: 'catalog-info.yaml',
            line,
            message: `document starting at line 1 ${problem}`,
          },
        ],
      });
    },
  );

  it('gives the catalog only entities its envelope check takes, which refuses a whole mutation over one', async () => {
    const validate = entityEnvelopeSchemaValidator();
    const shapes = [
      'apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n',
      'apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n  namespace: team-a\n',
      'apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n  namespace: null\n',
      'apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n  namespace: {}\n',
      'apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n  namespace: false\n',
      'apiVersion: v1\nkind: Component\nmetadata: []\n',
      'apiVersion: v1\nkind: Component\nmetadata: null\n',
      'apiVersion: v1\nkind: Component\n',
      'apiVersion: v1\nkind: ""\nmetadata:\n  name: a\n',
      'apiVersion: 1.0\nkind: Component\nmetadata:\n  name: a\n',
      'apiVersion: v1\nkind: [Component]\nmetadata:\n  name: a\n',
    ];
    const result = await parse(shapes.join('---\n'));

    expect(result.entities).toHaveLength(2);
    for (const entity of result.entities) {
      expect(() => validate(entity)).not.toThrow();
    }
    expect(result.errors).toHaveLength(shapes.length - 2);
  });

  it('reads a document that starts with a byte order mark, as files joined with cat carry', async () => {
    const result = await parse(
      `\uFEFF${component('a')}---\n\uFEFF${component('b')}`,
    );

    expect(result.errors).toEqual([]);
    expect(result.entities.map(e => e.metadata.name)).toEqual(['a', 'b']);
  });

  it("reports a document's first syntax error and how many more it has, not each of them", async () => {
    const template = `{%- if values.owner %}\n${component(
      'a',
    )}{%- endif %}\n---\n${component('b')}`;

    const result = await parse(template);

    expect(result.entities.map(e => e.metadata.name)).toEqual(['b']);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ line: 1 });
    expect(result.errors[0].message).toMatch(
      /^.* at line 1, column \d+ \(and \d+ more errors? in this document\)$/,
    );
  });

  it('reports errors of a stream without documents', async () => {
    await expect(parse('%YAML 9\n')).resolves.toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          message: expect.stringContaining('Unsupported YAML version 9'),
        },
      ],
    });
  });

  it('rejects a document that is not a mapping', async () => {
    await expect(parse('just a sentence\n')).resolves.toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          line: 1,
          message: 'document starting at line 1 is a string, not a mapping',
        },
      ],
    });
  });

  it('rejects an entity whose ref the catalog cannot store, keeping the other documents of its file', async () => {
    const name = 'n'.repeat(250);
    const result = await parse(
      `apiVersion: v1\nkind: Component\nmetadata:\n  name: kept\n---\napiVersion: v1\nkind: Component\nmetadata:\n  name: ${name}\n`,
    );
    expect(result.entities.map(e => e.metadata.name)).toEqual(['kept']);
    expect(result.errors).toEqual([
      {
        file: 'catalog-info.yaml',
        line: 9,
        message: `document starting at line 5 has an entity ref of 268 characters (component:default/${'n'.repeat(
          42,
        )}…): the catalog stores at most 255; shorten metadata.name`,
      },
    ]);
  });

  it('rejects a descriptor over the size limit before parsing it', async () => {
    const readFile = repository();
    // Unparseable on purpose: parsing it would add syntax errors.
    const content = Buffer.alloc(5 * 1024 * 1024, '[');

    const result = await parse(content, { readFile });

    expect(result).toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          message: 'descriptor is 5.0 MB, over the 1.0 MB limit',
        },
      ],
    });
    expect(readFile).not.toHaveBeenCalled();
    expect(DEFAULT_MAX_DESCRIPTOR_BYTES).toBe(1024 * 1024);
  });

  it('rejects an alias bomb without expanding it', async () => {
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const bomb = levels
      .map((name, level) => {
        const items = Array(9).fill(level ? `*${levels[level - 1]}` : 'lol');
        return `${name}: &${name} [${items.join(', ')}]`;
      })
      .join('\n');

    const result = await parse(bomb);

    expect(result).toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          line: 1,
          message: expect.stringMatching(
            /^document starting at line 1: .*alias/,
          ),
        },
      ],
    });
  });

  it('rejects collections nested too deeply to parse safely', async () => {
    // Deep enough to overflow yaml's recursive composer.
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const readFile = repository({ 'deep.json': deep, 'deep.yaml': deep });

    await expect(parse(`a: ${deep}\n`)).resolves.toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          message: 'descriptor nests collections more than 100 levels deep',
        },
      ],
    });
    const result = await parse(
      component('a', 'json:\n  $json: deep.json\nyaml:\n  $yaml: deep.yaml\n'),
      { readFile },
    );
    expect(result.errors.map(e => [e.file, e.message])).toEqual([
      [
        'deep.json',
        expect.stringMatching(/^\$json placeholder target deep.json nests/),
      ],
      [
        'deep.yaml',
        expect.stringMatching(/^\$yaml placeholder target deep.yaml nests/),
      ],
    ]);
  });

  it("resolves $text relative to the descriptor's directory", async () => {
    const readFile = repository({
      'services/a/openapi.yaml': 'openapi: 3.0.0\n',
    });

    const result = await parse(
      component('a', 'definition:\n  $text: ./openapi.yaml\n'),
      { path: 'services/a/catalog-info.yaml', readFile },
    );

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec?.definition).toBe('openapi: 3.0.0\n');
    expect(readFile).toHaveBeenCalledWith(
      'services/a/openapi.yaml',
      DEFAULT_MAX_TARGET_BYTES,
    );
  });

  it('substitutes parsed $json and $yaml targets', async () => {
    const readFile = repository({
      'docs/schema.json': '{ "type": "object", "required": ["id"] }',
      'docs/owners.yaml': '\uFEFFprimary: team-a\nbackup: [team-b]\n',
    });

    const result = await parse(
      component(
        'a',
        'schema:\n  $json: docs/schema.json\nowners:\n  $yaml: docs/owners.yaml\n',
      ),
      { readFile },
    );

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec).toEqual({
      type: 'service',
      schema: { type: 'object', required: ['id'] },
      owners: { primary: 'team-a', backup: ['team-b'] },
    });
  });

  it('resolves placeholders nested inside arrays', async () => {
    const readFile = repository({ 'a.txt': 'A', 'b.json': '[1, 2]' });

    const result = await parse(
      component(
        'a',
        'items:\n  - plain\n  - $text: a.txt\n  - - $json: b.json\n',
      ),
      { readFile },
    );

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec?.items).toEqual(['plain', 'A', [[1, 2]]]);
  });

  it('rejects a placeholder that climbs out of the repository', async () => {
    const readFile = repository({ 'etc/passwd': 'root' });

    const result = await parse(
      component('a', 'x:\n  $text: ../../etc/passwd\n'),
      { readFile },
    );

    expect(result).toEqual({
      entities: [],
      errors: [
        {
          file: 'catalog-info.yaml',
          line: 8,
          message:
            '$text placeholder path ../../etc/passwd climbs out of the repository',
        },
      ],
    });
    expect(readFile).not.toHaveBeenCalled();
  });

  it("resolves a placeholder path that starts with a slash from the repository's root, never above it", async () => {
    const result = await parse(
      component('a', 'x:\n  $text: /../../etc/passwd\n'),
      {
        path: 'services/a/catalog-info.yaml',
        readFile: repository({ 'etc/passwd': 'in the repository' }),
      },
    );

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec).toEqual({
      type: 'service',
      x: 'in the repository',
    });
  });

  it('reads a placeholder URL of a file of this repository, and refuses any other URL', async () => {
    const own = 'https://github.com/acme/shop/blob/master/specs/api.yaml';
    const options = {
      path: 'services/a/catalog-info.yaml',
      readFile: repository({ 'specs/api.yaml': 'openapi: 3.1.0' }),
      pathOfUrl: (url: string) => (url === own ? 'specs/api.yaml' : undefined),
    };
    const read = await parse(
      component('a', `own:\n  $text: ${own}\n`),
      options,
    );
    expect(read.errors).toEqual([]);
    expect(read.entities[0].spec?.own).toBe('openapi: 3.1.0');

    const result = await parse(
      component(
        'a',
        `other:\n  $json: https://example.com/a.json\nroot:\n  $text: /\n`,
      ),
      options,
    );
    expect(result.entities).toEqual([]);
    expect(result.errors).toEqual([
      {
        file: 'services/a/catalog-info.yaml',
        line: 8,
        message:
          '$json placeholder path https://example.com/a.json is a URL outside this repository; only its own files are read (write a path relative to the descriptor)',
      },
      {
        file: 'services/a/catalog-info.yaml',
        line: 10,
        message:
          '$text placeholder path / names the repository itself, not a file',
      },
    ]);
  });

  it('reports a missing placeholder target', async () => {
    const result = await parse(
      component('a', 'x:\n  $yaml: docs/none.yaml\n'),
      {
        path: 'a/catalog-info.yaml',
      },
    );

    expect(result).toEqual({
      entities: [],
      errors: [
        {
          file: 'a/catalog-info.yaml',
          line: 8,
          message:
            '$yaml placeholder target a/docs/none.yaml does not exist in the repository',
        },
      ],
    });
  });

  it('rejects a placeholder whose value is not a string', async () => {
    const result = await parse(component('a', 'x:\n  $text: [a.txt]\n'));

    expect(result.errors).toEqual([
      {
        file: 'catalog-info.yaml',
        line: 8,
        message: '$text placeholder must have a file path as its value',
      },
    ]);
  });

  it.each([
    ['x:\n  other: 1\n  $text: a.txt\n', { other: 1, $text: 'a.txt' }],
    [
      'x:\n  $schema: s.json\n  d:\n    $text: a.txt\n',
      { $schema: 's.json', d: { $text: 'a.txt' } },
    ],
    ['x:\n  $openapi: api.yaml\n', { $openapi: 'api.yaml' }],
  ])(
    'reads a $-key beside other keys, or of another kind, as data, and nothing inside it, as the catalog does (%j)',
    async (spec, x) => {
      const readFile = repository({ 'a.txt': 'A' });

      const result = await parse(component('a', spec), { readFile });

      expect(result.errors).toEqual([]);
      expect(result.entities[0].spec).toMatchObject({ x });
      expect(readFile).not.toHaveBeenCalled();
    },
  );

  it.each([
    ['', 'holds no YAML documents; a $yaml target must hold one'],
    [
      '# only a comment\n',
      'holds no YAML documents; a $yaml target must hold one',
    ],
    [
      'a: 1\n---\nb: 2\n',
      'holds 2 YAML documents; a $yaml target must hold one',
    ],
  ])('refuses a $yaml target %j', async (target, problem) => {
    const readFile = repository({ 'x.yaml': target });

    const result = await parse(component('a', 'x:\n  $yaml: x.yaml\n'), {
      readFile,
    });

    expect(result.entities).toEqual([]);
    expect(result.errors).toEqual([
      {
        file: 'x.yaml',
        message: `$yaml placeholder target x.yaml ${problem} (referenced from catalog-info.yaml line 8)`,
      },
    ]);
  });

  it('rejects a placeholder target over its size limit, larger than the descriptor limit', async () => {
    const readFile = repository({ 'big.txt': 'x'.repeat(2048) });
    const descriptor = component('a', 'x:\n  $text: big.txt\n');

    const read = await parse(descriptor, { readFile, maxBytes: 1024 });
    expect(read.errors).toEqual([]);
    expect(read.entities[0].spec?.x).toHaveLength(2048);

    const result = await parse(descriptor, { readFile, maxTargetBytes: 1024 });

    expect(result.errors).toEqual([
      {
        file: 'big.txt',
        message:
          '$text placeholder target big.txt is 2.0 KB, over the 1.0 KB limit (referenced from catalog-info.yaml line 8)',
      },
    ]);
  });

  it('rejects invalid $json and $yaml targets, alias bombs included', async () => {
    const readFile = repository({
      'bad.json': '{ "a": ',
      'bad.yaml': 'a: b: c\n',
      'bomb.yaml':
        'a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n',
    });

    const result = await parse(
      component(
        'a',
        'j:\n  $json: bad.json\ny:\n  $yaml: bad.yaml\nb:\n  $yaml: bomb.yaml\n',
      ),
      { readFile },
    );

    expect(result.entities).toEqual([]);
    expect(result.errors).toEqual([
      {
        file: 'bad.json',
        message: expect.stringMatching(
          /^\$json placeholder target bad.json is not valid JSON: .+ \(referenced from catalog-info.yaml line 8\)$/,
        ),
      },
      {
        file: 'bad.yaml',
        message: expect.stringMatching(
          /^\$yaml placeholder target bad.yaml is not valid YAML: .*line 1.* \(referenced from catalog-info.yaml line 10\)$/,
        ),
      },
      {
        file: 'bomb.yaml',
        message: expect.stringMatching(
          /^\$yaml placeholder target bomb.yaml is not valid YAML: .*alias/,
        ),
      },
    ]);
  });

  it('does not scan placeholder results for placeholders', async () => {
    const readFile = repository({
      'a.yaml': 'nested:\n  $text: missing.txt\n',
    });

    const result = await parse(component('a', 'x:\n  $yaml: a.yaml\n'), {
      readFile,
    });

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec?.x).toEqual({
      nested: { $text: 'missing.txt' },
    });
    expect(readFile).toHaveBeenCalledTimes(1);
  });

  it('substitutes a placeholder reached through an alias', async () => {
    const readFile = repository({ 'a.txt': 'A' });

    const result = await parse(
      component('a', 'x: &doc\n  $text: a.txt\ny: *doc\n'),
      { readFile },
    );

    expect(result.errors).toEqual([]);
    expect(result.entities[0].spec).toMatchObject({ x: 'A', y: 'A' });
  });

  it('reads each placeholder target once however often it is referenced', async () => {
    const readFile = repository({ 'a.txt': 'A' });

    const result = await parse(
      `${component('a', 'x:\n  $text: a.txt\n')}---\n${component(
        'b',
        'x:\n  $text: ./a.txt\n',
      )}`,
      { readFile },
    );

    expect(result.entities.map(e => e.spec?.x)).toEqual(['A', 'A']);
    expect(readFile).toHaveBeenCalledTimes(1);
  });

  it('rejects when reading a placeholder target fails', async () => {
    const readFile = jest.fn(async () => {
      throw new Error('git object store unavailable');
    });

    await expect(
      parse(component('a', 'x:\n  $text: a.txt\n'), { readFile }),
    ).rejects.toThrow('git object store unavailable');
  });

  it('returns the documents that read well beside the errors of the others', async () => {
    const result = await parse(
      `${component('a')}---\n${component('b')}---\nkind: Component\n`,
    );

    expect(result.entities.map(e => e.metadata.name)).toEqual(['a', 'b']);
    expect(result.errors).toEqual([
      {
        file: 'catalog-info.yaml',
        line: 14,
        message:
          'document starting at line 14 is missing apiVersion, metadata.name',
      },
    ]);
  });
});
