import { verify as verifyGithubSignature } from '@octokit/webhooks-methods';
import { createHmac, timingSafeEqual } from 'node:crypto';

const equal = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

const header = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value[0] : value;

/** A check of one delivery: undefined when it may pass, else why not (answered with 401). */
export type SignatureCheck = (
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
) => Promise<string | undefined>;

const unconfigured =
  (key: string): SignatureCheck =>
  async () =>
    `no secret configured for this source: set ${key}`;

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. */
export function githubSignature(
  secret: string | undefined,
  key: string,
): SignatureCheck {
  if (!secret) return unconfigured(key);
  return async (headers, body) => {
    const signature = header(headers['x-hub-signature-256']);
    if (!signature) return 'X-Hub-Signature-256 is missing';
    return (await verifyGithubSignature(secret, body, signature))
      ? undefined
      : 'X-Hub-Signature-256 does not match the body';
  };
}

/** `X-Gitlab-Token`, the secret token set on the webhook. */
export function gitlabToken(
  secret: string | undefined,
  key: string,
): SignatureCheck {
  if (!secret) return unconfigured(key);
  return async headers => {
    const token = header(headers['x-gitlab-token']);
    if (!token) return 'X-Gitlab-Token is missing';
    return equal(token, secret) ? undefined : 'X-Gitlab-Token is wrong';
  };
}

/**
 * `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`, comma-separated when a subscription's secret
 * is being rotated; one match is enough. Several secrets may be configured for several subscriptions.
 */
export function pagerDutySignature(
  secrets: string[],
  key: string,
): SignatureCheck {
  if (secrets.length === 0) return unconfigured(key);
  return async (headers, body) => {
    const signatures = (header(headers['x-pagerduty-signature']) ?? '')
      .split(',')
      // Hex digits compare in either case.
      .map(s => s.trim().toLowerCase())
      .filter(s => s.startsWith('v1='));
    if (signatures.length === 0) return 'X-PagerDuty-Signature is missing';
    const expected = secrets.map(
      secret => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`,
    );
    return signatures.some(s => expected.some(e => equal(s, e)))
      ? undefined
      : 'X-PagerDuty-Signature does not match the body';
  };
}

/** `Authorization: Bearer <token>`: CDEvents senders are not signed, so they carry a shared token. */
export function bearerToken(
  token: string | undefined,
  key: string,
): SignatureCheck {
  if (!token) return unconfigured(key);
  return async headers => {
    const given = header(headers.authorization)?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!given) return 'Authorization: Bearer <token> is missing';
    return equal(given, token) ? undefined : 'the bearer token is wrong';
  };
}
