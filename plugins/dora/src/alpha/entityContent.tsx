import { EntityContentBlueprint } from '@backstage/plugin-catalog-react/alpha';

/** The DORA tab of components and systems. */
export const doraEntityContent = EntityContentBlueprint.make({
  params: {
    path: 'dora',
    title: 'DORA',
    filter: 'kind:component,system',
    loader: () =>
      import('../components/EntityDoraContent').then(m => (
        <m.EntityDoraContent />
      )),
  },
});
