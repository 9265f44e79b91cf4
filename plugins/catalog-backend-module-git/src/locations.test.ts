import { fileLocations, pathInRepository, webRoot } from './locations';

describe('fileLocations', () => {
  it('uses the web UI of GitHub for https and ssh remotes alike', () => {
    for (const remote of [
      'https://github.com/northwind/checkout.git',
      'git@github.com:northwind/checkout.git',
      'ssh://git@github.com/northwind/checkout',
    ]) {
      expect(
        fileLocations({
          remote,
          path: 'services/api/catalog-info.yaml',
          branch: 'main',
          hostType: 'github',
        }),
      ).toEqual({
        location:
          'url:https://github.com/northwind/checkout/blob/main/services/api/catalog-info.yaml',
        source:
          'url:https://github.com/northwind/checkout/tree/main/services/api/',
        viewUrl:
          'https://github.com/northwind/checkout/blob/main/services/api/catalog-info.yaml',
        editUrl:
          'https://github.com/northwind/checkout/edit/main/services/api/catalog-info.yaml',
      });
    }
  });

  it("uses GitLab's routes, keeping a self-hosted server's port and scheme", () => {
    expect(
      fileLocations({
        remote: 'http://git.corp:8080/platform/tools/deployer.git',
        path: 'catalog-info.yaml',
        branch: 'release/1.0',
        hostType: 'gitlab',
      }),
    ).toMatchObject({
      source:
        'url:http://git.corp:8080/platform/tools/deployer/-/tree/release/1.0/',
      viewUrl:
        'http://git.corp:8080/platform/tools/deployer/-/blob/release/1.0/catalog-info.yaml',
    });
  });

  it('appends the path to the remote on a server without a known web UI', () => {
    expect(
      fileLocations({
        remote: 'git://git.corp/tools.git',
        path: '.backstage/api.yaml',
        branch: 'main',
      }),
    ).toEqual({
      location: 'url:git://git.corp/tools.git/.backstage/api.yaml',
      source: 'url:git://git.corp/tools.git/.backstage/',
    });
    expect(
      fileLocations({
        remote: '/srv/git/tools.git',
        path: 'a.yaml',
        branch: 'main',
      }),
    ).toEqual({
      location: 'url:file:///srv/git/tools.git/a.yaml',
      source: 'url:file:///srv/git/tools.git/',
    });
    expect(webRoot('/srv/git/tools.git')).toBeUndefined();
  });
});

describe('pathInRepository', () => {
  const github = {
    remote: 'git@github.com:acme/shop.git',
    hostType: 'github' as const,
  };

  it("reads a repository's own browser, raw and location URLs as paths, at any branch", () => {
    for (const url of [
      'https://github.com/acme/shop/blob/master/specs/open%20api.yaml',
      'https://github.com/acme/shop/raw/main/specs/open%20api.yaml',
      'https://raw.githubusercontent.com/acme/shop/main/specs/open%20api.yaml',
    ]) {
      expect(pathInRepository(url, github)).toBe('specs/open api.yaml');
    }
    expect(
      pathInRepository(
        'https://gitlab.example.com/platform/shop/-/raw/main/api.yaml',
        {
          remote: 'https://gitlab.example.com/platform/shop.git',
          hostType: 'gitlab',
        },
      ),
    ).toBe('api.yaml');
    expect(
      pathInRepository('git://git.corp/tools.git/docs/api.yaml', {
        remote: 'git://git.corp/tools.git',
      }),
    ).toBe('docs/api.yaml');
    // A malformed escape is no reason to fail the repository's sync: the path names no file.
    expect(
      pathInRepository(
        'https://github.com/acme/shop/blob/main/bad%E0%A4',
        github,
      ),
    ).toBe('bad%E0%A4');
  });

  it('names nothing for another repository, host or scheme', () => {
    for (const url of [
      'https://github.com/acme/shop-private/blob/main/secrets.yaml',
      'https://raw.githubusercontent.com/acme/other/main/a.yaml',
      'https://gitlab.com/acme/shop/-/raw/main/a.yaml',
      'file:///etc/passwd',
    ]) {
      expect(pathInRepository(url, github)).toBeUndefined();
    }
    expect(
      pathInRepository('file:///srv/git/other.git/a.yaml', {
        remote: 'file:///srv/git/shop.git',
      }),
    ).toBeUndefined();
  });
});
