import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { HomePageWidgetBlueprint } from '@backstage/plugin-home-react/alpha';

type WidgetName = keyof typeof import('./widgets');

/** A home page widget whose content is loaded lazily from ./widgets. */
function homeWidget(options: {
  name: string;
  component: WidgetName;
  layoutName: string;
  title: string;
  description: string;
}) {
  return HomePageWidgetBlueprint.make({
    name: options.name,
    params: {
      name: options.layoutName,
      title: options.title,
      description: options.description,
      components: async () => ({
        Content: (await import('./widgets'))[options.component],
      }),
    },
  });
}

export const homeModule = createFrontendModule({
  pluginId: 'home',
  extensions: [
    homeWidget({
      name: 'my-team-services',
      component: 'MyTeamServices',
      layoutName: 'PorticoMyTeamServices',
      title: 'Your team’s services',
      description: 'Components owned by you and your teams',
    }),
    homeWidget({
      name: 'golden-paths',
      component: 'GoldenPaths',
      layoutName: 'PorticoTemplates',
      title: 'Golden paths',
      description: 'Software templates to start a new service or site',
    }),
    homeWidget({
      name: 'documentation',
      component: 'Documentation',
      layoutName: 'PorticoDocs',
      title: 'Documentation',
      description: 'Services and sites that publish TechDocs',
    }),
  ],
});
