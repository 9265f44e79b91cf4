import { startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { scaffolderFeatures } from './scaffolder';

jest.setTimeout(120_000);

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('the scaffolder', () => {
  it('offers the publishing and utility actions of templates from other hosts and from Roadie', async () => {
    const { server } = await startTestBackend({ features: scaffolderFeatures });
    const res = await request(server)
      .get('/api/scaffolder/v2/actions')
      .set('Authorization', 'Bearer mock-user-token');
    expect(res.status).toBe(200);
    expect(res.body.map((action: { id: string }) => action.id)).toEqual(
      expect.arrayContaining([
        'fetch:template',
        'publish:github',
        'publish:gitlab',
        'publish:gitlab:merge-request',
        'publish:azure',
        'publish:gitea',
        'publish:bitbucketServer',
        'roadiehq:utils:fs:write',
        'roadiehq:utils:merge',
        'roadiehq:utils:jsonata',
        'http:backstage:request',
      ]),
    );
  });

  it("runs a template's Roadie steps on the files it fetched, in a dry run", async () => {
    const { server } = await startTestBackend({ features: scaffolderFeatures });
    const template = {
      apiVersion: 'scaffolder.backstage.io/v1beta3',
      kind: 'Template',
      metadata: { name: 'roadie-steps' },
      spec: {
        owner: 'group:default/platform-team',
        type: 'service',
        parameters: [
          {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' } },
          },
        ],
        steps: [
          {
            id: 'fetch',
            action: 'fetch:template',
            input: {
              url: './skeleton',
              values: { name: '${{ parameters.name }}' },
            },
          },
          {
            id: 'notes',
            action: 'roadiehq:utils:fs:write',
            input: {
              path: 'NOTES.md',
              content: 'Made for ${{ parameters.name }}\n',
            },
          },
          {
            id: 'scripts',
            action: 'roadiehq:utils:merge',
            input: {
              path: 'package.json',
              content: { scripts: { test: 'jest' } },
            },
          },
        ],
      },
    };
    const res = await request(server)
      .post('/api/scaffolder/v2/dry-run')
      .set('Authorization', 'Bearer mock-user-token')
      .send({
        template,
        values: { name: 'billing' },
        directoryContents: [
          {
            path: 'skeleton/package.json',
            base64Content: base64('{ "name": "${{ values.name }}" }\n'),
          },
        ],
      });
    expect(res.status).toBe(200);
    const files = Object.fromEntries(
      res.body.directoryContents.map(
        (file: { path: string; base64Content: string }) => [
          file.path,
          Buffer.from(file.base64Content, 'base64').toString(),
        ],
      ),
    );
    expect(files['NOTES.md']).toBe('Made for billing\n');
    expect(JSON.parse(files['package.json'])).toEqual({
      name: 'billing',
      scripts: { test: 'jest' },
    });
  });
});
