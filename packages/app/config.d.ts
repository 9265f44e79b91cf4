export interface Config {
  portico?: {
    /**
     * Sign-in choices on the sign-in page, in order: `guest` (development only) or `github`.
     * Each needs its provider configured under `auth.providers`.
     * @visibility frontend
     */
    signInProviders?: Array<'guest' | 'github'>;
  };
}
