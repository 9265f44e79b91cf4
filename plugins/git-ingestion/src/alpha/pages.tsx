import { createRouteRef, PageBlueprint } from '@backstage/frontend-plugin-api';
import SyncIcon from '@material-ui/icons/Sync';

export const ingestionStatusPage = PageBlueprint.make({
  params: {
    path: '/git-ingestion',
    // A page needs a route ref to get an item in the sidebar.
    routeRef: createRouteRef(),
    title: 'Git ingestion',
    icon: <SyncIcon />,
    loader: () =>
      import('../components/IngestionStatusPage').then(m => (
        <m.IngestionStatusPage />
      )),
  },
});
