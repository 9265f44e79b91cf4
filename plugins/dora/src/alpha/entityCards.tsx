import { EntityCardBlueprint } from '@backstage/plugin-catalog-react/alpha';

/** The DORA card of group pages: the team's figures with its child groups. */
export const doraGroupCard = EntityCardBlueprint.make({
  name: 'group',
  params: {
    filter: 'kind:group',
    loader: () =>
      import('../components/GroupDoraCard').then(m => <m.GroupDoraCard />),
  },
});
