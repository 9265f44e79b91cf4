import { createMockDirectory } from '@backstage/backend-test-utils';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '../../..');

// The sites built here are removed after the tests.
createMockDirectory({ mockOsTmpDir: true });

/** Builds the docs template's site with `files` written over it, as the backend's TechDocs generator runs mkdocs. */
function buildSite(files: Record<string, string>): string {
  const site = mkdtempSync(join(tmpdir(), 'portico-techdocs-'));
  cpSync(join(repoRoot, 'templates/docs-site/content'), site, {
    recursive: true,
  });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(site, path)), { recursive: true });
    writeFileSync(join(site, path), content);
  }
  // What ./portico start gives the backend.
  execFileSync(
    'bash',
    [
      '-c',
      'source scripts/lib.sh && ensure_mkdocs && cd "$1" && mkdocs build -f mkdocs.yml -d out',
      'build',
      site,
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, PORTICO_ROOT: repoRoot },
      stdio: 'pipe',
    },
  );
  return site;
}

describe('local TechDocs builds', () => {
  it("build a site that names the techdocs-core plugin, as the docs template's sites do, with its theme and Markdown", () => {
    const site = buildSite({
      'docs/index.md':
        '# Payments\n\n!!! warning "Before you deploy"\n    Run the migrations.\n\n- [x] on call set up\n\n- Regions\n  - eu-west\n\n> [!TIP]\n> Deploy on Tuesdays.\n\nOwned by :material-account-group: on :fontawesome-brands-github:\n',
    });

    const page = readFileSync(join(site, 'out/index.html'), 'utf8');
    expect(page).toContain('class="md-header');
    expect(page).toMatch(/class="admonition warning"[\s\S]*Before you deploy/);
    expect(page).toContain('task-list-item');
    // GitHub's alerts, as a README moved into docs has them.
    expect(page).toMatch(/class="admonition tip"[\s\S]*Deploy on Tuesdays/);
    // Nested by two spaces, as sites written for the real plugin nest lists.
    expect(page).toMatch(/Regions(<\/p>)?\s*<ul>\s*<li>eu-west<\/li>/);
    // The Material theme's icons, drawn inline as the real plugin draws them.
    expect(page).toMatch(
      /Owned by <span class="twemoji"><svg[^>]*>[\s\S]*?<\/svg><\/span> on <span class="twemoji"><svg/,
    );
    // What TechDocs search indexes and what the reader's header shows.
    const index = JSON.parse(
      readFileSync(join(site, 'out/search/search_index.json'), 'utf8'),
    );
    expect(index.docs.map((doc: { title: string }) => doc.title)).toContain(
      'Payments',
    );
    const metadata = JSON.parse(
      readFileSync(join(site, 'out/techdocs_metadata.json'), 'utf8'),
    );
    expect(metadata.site_name).toBe(
      readFileSync(join(site, 'mkdocs.yml'), 'utf8').match(
        /^site_name: (.*)$/m,
      )![1],
    );
  });

  it("build a site that names the Material icons' emoji index and the redirects plugin, as the techdocs-core image has them", () => {
    const site = buildSite({
      'mkdocs.yml': [
        'site_name: Wild docs',
        'markdown_extensions:',
        '  - attr_list',
        '  - pymdownx.emoji:',
        '      emoji_index: !!python/name:materialx.emoji.twemoji',
        'plugins:',
        '  - techdocs-core',
        '  - redirects:',
        '      redirect_maps:',
        '        setup.md: index.md',
      ].join('\n'),
      'docs/index.md': '# Wild\n\n:smile: :octicons-git-branch-16:\n',
    });

    const page = readFileSync(join(site, 'out/index.html'), 'utf8');
    expect(page).toContain('alt="\u{1f604}" class="twemoji"');
    expect(page).toMatch(/<span class="twemoji"><svg[^>]*viewBox="0 0 16 16"/);
    // A page that moved, as the real plugin's image redirects it.
    expect(readFileSync(join(site, 'out/setup/index.html'), 'utf8')).toContain(
      'http-equiv="refresh" content="0; url=../"',
    );
  });

  it("build a monorepo's site from the docs of its folders, as the techdocs-core image's monorepo plugin does", () => {
    const monorepo = (nav: string[]) => ({
      'mkdocs.yml': [
        'site_name: Shop',
        'repo_url: https://github.com/acme/shop',
        'edit_uri: edit/main/docs/',
        'nav:',
        '  - Home: index.md',
        ...nav,
        'plugins:',
        '  - techdocs-core',
        '  - monorepo',
      ].join('\n'),
      'tools/cli/mkdocs.yml': 'site_name: cli\nnav:\n  - Intro: index.md\n',
      'tools/cli/docs/index.md': '# CLI\n',
      'services/payments/mkdocs.yml': 'site_name: Payments service\n',
      'services/payments/docs/index.md': '# Payments\n',
      'services/payments/docs/guides/refunds.md': '# Refunds\n',
      'services/cart/mkdocs.yml': 'site_name: cart\n',
      'services/cart/docs/index.md': '# Cart\n',
    });
    const site = buildSite(
      monorepo([
        "  - CLI: '!include ./tools/cli/mkdocs.yml'",
        "  - Services: '*include ./services/*/mkdocs.yml'",
      ]),
    );

    const refunds = readFileSync(
      join(site, 'out/payments-service/guides/refunds/index.html'),
      'utf8',
    );
    expect(refunds).toContain('<h1 id="refunds">Refunds');
    expect(refunds).toContain(
      'href="https://github.com/acme/shop/edit/main/services/payments/docs/guides/refunds.md"',
    );
    const navigation = readFileSync(join(site, 'out/index.html'), 'utf8')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ');
    expect(navigation).toContain(
      'CLI CLI Intro Services Services cart cart Cart Payments service Payments service Payments Refunds',
    );

    expect(() =>
      buildSite(monorepo(["  - Secrets: '!include ../../etc/mkdocs.yml'"])),
    ).toThrow("monorepo: ../../etc/mkdocs.yml is outside the site's directory");
    // Read as plain YAML: Backstage checks the Python tags of the site's own mkdocs.yml only.
    expect(() =>
      buildSite({
        ...monorepo(["  - CLI: '!include ./tools/cli/mkdocs.yml'"]),
        'tools/cli/mkdocs.yml':
          'site_name: cli\nhook: !!python/object/apply:os.getpid []\n',
      }),
    ).toThrow(/monorepo: tools\/cli\/mkdocs.yml could not be read/);
  });
});
