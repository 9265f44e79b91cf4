import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { TechDocsAddonLocations } from '@backstage/plugin-techdocs-react';
import { AddonBlueprint } from '@backstage/plugin-techdocs-react/alpha';
import { MermaidDiagrams } from './MermaidDiagrams';

/** Portico's TechDocs addons: diagrams that sites from the wild write in Mermaid. */
export const techDocsModule = createFrontendModule({
  pluginId: 'techdocs',
  extensions: [
    AddonBlueprint.make({
      name: 'mermaid',
      params: {
        name: 'MermaidDiagrams',
        location: TechDocsAddonLocations.Content,
        component: MermaidDiagrams,
      },
    }),
  ],
});
