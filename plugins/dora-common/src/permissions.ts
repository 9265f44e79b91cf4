import { createPermission } from '@backstage/plugin-permission-common';

/** Marking a deployment as failed, or as the fix of another: it changes the team's figures. */
export const doraDeploymentUpdatePermission = createPermission({
  name: 'dora.deployment.update',
  attributes: { action: 'update' },
});

export const doraPermissions = [doraDeploymentUpdatePermission];
