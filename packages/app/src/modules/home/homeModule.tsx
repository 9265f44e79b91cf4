import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { HomePageWidgetBlueprint } from '@backstage/plugin-home-react/alpha';

const myTeamServices = HomePageWidgetBlueprint.make({
  name: 'my-team-services',
  params: {
    name: 'PorticoMyTeamServices',
    title: 'Your team’s services',
    description: 'Components owned by you and your teams',
    components: async () => ({
      Content: (await import('./widgets')).MyTeamServices,
    }),
  },
});

const goldenPaths = HomePageWidgetBlueprint.make({
  name: 'golden-paths',
  params: {
    name: 'PorticoTemplates',
    title: 'Golden paths',
    description: 'Software templates to start a new service or site',
    components: async () => ({
      Content: (await import('./widgets')).GoldenPaths,
    }),
  },
});

const documentation = HomePageWidgetBlueprint.make({
  name: 'documentation',
  params: {
    name: 'PorticoDocs',
    title: 'Documentation',
    description: 'Services and sites that publish TechDocs',
    components: async () => ({
      Content: (await import('./widgets')).Documentation,
    }),
  },
});

export const homeModule = createFrontendModule({
  pluginId: 'home',
  extensions: [myTeamServices, goldenPaths, documentation],
});
