import {
  AuthorizeResult,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import {
  catalogEntityDeletePermission,
  catalogLocationDeletePermission,
} from '@backstage/plugin-catalog-common/alpha';

/** Removing things from the catalog is what loses data, so it is kept for the platform's admins. */
const adminOnlyPermissions = new Set([
  catalogEntityDeletePermission.name,
  catalogLocationDeletePermission.name,
]);

export class PorticoPermissionPolicy implements PermissionPolicy {
  private readonly admins: Set<string>;

  constructor(adminRefs: string[]) {
    this.admins = new Set(adminRefs.map(ref => ref.toLocaleLowerCase('en-US')));
  }

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    if (!adminOnlyPermissions.has(request.permission.name)) {
      return { result: AuthorizeResult.ALLOW };
    }
    const ownership = user?.info.ownershipEntityRefs ?? [];
    const isAdmin = ownership.some(ref =>
      this.admins.has(ref.toLocaleLowerCase('en-US')),
    );
    return { result: isAdmin ? AuthorizeResult.ALLOW : AuthorizeResult.DENY };
  }
}
