import { createHmac } from 'node:crypto';
import { pagerDutySignature } from './signatures';

describe('pagerDutySignature', () => {
  const body = '{"event":{"event_type":"pagey.ping"}}';
  const hex = (secret: string) =>
    createHmac('sha256', secret).update(body).digest('hex');
  const check = pagerDutySignature(
    ['other-subscription', 'secret'],
    'events.modules.pagerduty.webhookSecrets',
  );

  it('accepts any one matching signature, its hex digits in either case', async () => {
    await expect(
      check(
        {
          'x-pagerduty-signature': `v1=${hex('rotated-away')}, v1=${hex(
            'secret',
          ).toUpperCase()}`,
        },
        body,
      ),
    ).resolves.toBeUndefined();
  });

  it('refuses a body signed with no configured secret, and a missing header', async () => {
    await expect(
      check({ 'x-pagerduty-signature': `v1=${hex('guess')}` }, body),
    ).resolves.toBe('X-PagerDuty-Signature does not match the body');
    await expect(check({}, body)).resolves.toBe(
      'X-PagerDuty-Signature is missing',
    );
  });
});
