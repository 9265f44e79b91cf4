import { classify, DORA_BENCHMARKS } from './benchmarks';

const set = (id: string) => DORA_BENCHMARKS.find(s => s.id === id)!;
const DAY = 86_400;

describe('classify', () => {
  it('takes the best level whose bound a figure meets, by the set asked for', () => {
    const cfr = (rate: number, id: string) =>
      classify(set(id), { metric: 'changeFailureRate', value: rate })?.level;
    // 2024's high cluster allows 20 %, its medium only 10 %; 2023's go 10 % then 15 %.
    expect([cfr(0.04, '2024'), cfr(0.12, '2024'), cfr(0.5, '2024')]).toEqual([
      'elite',
      'high',
      'low',
    ]);
    expect([cfr(0.12, '2023'), cfr(0.5, '2023')]).toEqual(['medium', 'low']);
    expect(
      classify(set('2023'), { metric: 'recoveryTime', value: 3 * DAY }),
    ).toEqual({ level: 'medium', benchmark: '2023' });
    expect(
      classify(set('2024'), { metric: 'recoveryTime', value: 3 * DAY }),
    ).toEqual({ level: 'low', benchmark: '2024' });
  });

  it('grades deployment frequency by its bucket, and leaves rework rate unbenchmarked', () => {
    const df = (bucket: 'daily' | 'weekly' | 'monthly' | 'lower') =>
      classify(set('2024'), { metric: 'deploymentFrequency', bucket })?.level;
    expect(
      ['daily', 'weekly', 'monthly', 'lower'].map(b => df(b as any)),
    ).toEqual(['elite', 'high', 'medium', 'low']);
    expect(
      classify(set('2024'), { metric: 'reworkRate', value: 0.01 }),
    ).toBeUndefined();
  });
});
