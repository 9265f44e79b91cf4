import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import scaffolderModuleAzure from '@backstage/plugin-scaffolder-backend-module-azure';
import scaffolderModuleBitbucketServer from '@backstage/plugin-scaffolder-backend-module-bitbucket-server';
import scaffolderModuleGitea from '@backstage/plugin-scaffolder-backend-module-gitea';
import scaffolderModuleGithub from '@backstage/plugin-scaffolder-backend-module-github';
import scaffolderModuleGitlab from '@backstage/plugin-scaffolder-backend-module-gitlab';
import scaffolderModuleNotifications from '@backstage/plugin-scaffolder-backend-module-notifications';
import scaffolderModuleHttpRequest from '@roadiehq/scaffolder-backend-module-http-request';
import scaffolderModuleUtils from '@roadiehq/scaffolder-backend-module-utils';

/**
 * The scaffolder with the actions that templates in public repositories use most, beside the core ones:
 * publishing to GitHub, GitLab, Azure DevOps, Gitea and Bitbucket Server, Roadie's file and data utilities
 * (`roadiehq:utils:*`) and its HTTP request to a Backstage API (`http:backstage:request`). Publishing
 * actions need that host under `integrations` only when a template runs them. Not `fetch:cookiecutter`:
 * cookiecutter renders the form's values with Jinja outside any sandbox, so on the backend's host a value
 * could run code with its secrets.
 */
export const scaffolderFeatures = [
  scaffolderPlugin,
  scaffolderModuleGithub,
  scaffolderModuleGitlab,
  scaffolderModuleAzure,
  scaffolderModuleGitea,
  scaffolderModuleBitbucketServer,
  scaffolderModuleNotifications,
  scaffolderModuleUtils,
  scaffolderModuleHttpRequest,
];
