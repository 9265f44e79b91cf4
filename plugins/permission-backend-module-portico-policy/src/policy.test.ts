import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  catalogEntityDeletePermission,
  catalogEntityReadPermission,
  catalogLocationCreatePermission,
  catalogLocationDeletePermission,
} from '@backstage/plugin-catalog-common/alpha';
import { PolicyQueryUser } from '@backstage/plugin-permission-node';
import { PorticoPermissionPolicy } from './policy';

function userOwning(...ownershipEntityRefs: string[]): PolicyQueryUser {
  return {
    info: { userEntityRef: ownershipEntityRefs[0], ownershipEntityRefs },
  } as PolicyQueryUser;
}

describe('PorticoPermissionPolicy', () => {
  const policy = new PorticoPermissionPolicy(['group:default/Platform-Team']);
  const developer = userOwning(
    'user:default/ada',
    'group:default/payments-team',
  );
  const admin = userOwning('user:default/guest', 'group:default/platform-team');

  it('lets any signed-in user read entities and register locations', async () => {
    for (const permission of [
      catalogEntityReadPermission,
      catalogLocationCreatePermission,
    ]) {
      await expect(policy.handle({ permission }, developer)).resolves.toEqual({
        result: AuthorizeResult.ALLOW,
      });
    }
  });

  it('refuses entity and location deletion to users outside the admin groups', async () => {
    for (const permission of [
      catalogEntityDeletePermission,
      catalogLocationDeletePermission,
    ]) {
      await expect(policy.handle({ permission }, developer)).resolves.toEqual({
        result: AuthorizeResult.DENY,
      });
    }
  });

  it('allows deletion to members of an admin group, whatever the case of the ref', async () => {
    await expect(
      policy.handle({ permission: catalogEntityDeletePermission }, admin),
    ).resolves.toEqual({ result: AuthorizeResult.ALLOW });
  });

  it('refuses deletion to everybody when no admins are configured', async () => {
    await expect(
      new PorticoPermissionPolicy([]).handle(
        { permission: catalogEntityDeletePermission },
        admin,
      ),
    ).resolves.toEqual({ result: AuthorizeResult.DENY });
  });
});
