export interface Config {
  permission?: {
    portico?: {
      /**
       * Entity refs of the groups (or users) allowed to delete catalog entities and locations,
       * e.g. `group:default/platform-team`. Nobody may delete when this list is empty.
       */
      admins?: string[];
    };
  };
}
