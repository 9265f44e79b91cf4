import {
  configApiRef,
  createFrontendModule,
  githubAuthApiRef,
  useApi,
} from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint } from '@backstage/plugin-app-react';
import { SignInPage } from '@backstage/core-components';
import { SignInPageProps } from '@backstage/core-plugin-api';

const github = {
  id: 'github-auth-provider',
  title: 'GitHub',
  message: 'Sign in with your company GitHub account',
  apiRef: githubAuthApiRef,
};

/** Offers the providers that `portico.signInProviders` names: guest in development, GitHub in production. */
function PorticoSignInPage(props: SignInPageProps) {
  const config = useApi(configApiRef);
  const names = config.getOptionalStringArray('portico.signInProviders') ?? [
    'guest',
  ];
  return (
    <SignInPage
      {...props}
      title="Sign in to Portico"
      align="center"
      providers={names.map(name => (name === 'github' ? github : 'guest'))}
    />
  );
}

export const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [
    SignInPageBlueprint.make({
      params: { loader: async () => PorticoSignInPage },
    }),
  ],
});
