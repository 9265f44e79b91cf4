import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { PorticoPermissionPolicy } from './policy';

export const permissionModulePorticoPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'portico-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint, config: coreServices.rootConfig },
      async init({ policy, config }) {
        const admins =
          config.getOptionalStringArray('permission.portico.admins') ?? [];
        policy.setPolicy(new PorticoPermissionPolicy(admins));
      },
    });
  },
});
