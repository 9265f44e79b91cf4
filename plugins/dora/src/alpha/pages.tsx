import { createRouteRef, PageBlueprint } from '@backstage/frontend-plugin-api';
import TimelineIcon from '@material-ui/icons/Timeline';

export const doraPage = PageBlueprint.make({
  params: {
    path: '/dora',
    // A page needs a route ref to get an item in the sidebar.
    routeRef: createRouteRef(),
    title: 'DORA',
    icon: <TimelineIcon />,
    loader: () => import('../components/DoraPage').then(m => <m.DoraPage />),
  },
});
