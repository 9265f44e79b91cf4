/** A Component descriptor, as a team's repository holds it. */
export const component = (name: string, description = `${name} service`) =>
  `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n  description: ${description}\nspec:\n  type: service\n  owner: group:default/platform-team\n  lifecycle: production\n`;
