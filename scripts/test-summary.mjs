// Sums every suite of ./portico test into one closing line: "N passed, N failed".
// Usage: node scripts/test-summary.mjs <checks passed> <checks failed> <jest.json> <playwright.json>
// A suite whose report is missing (it crashed before writing one) counts as one failure.
import { existsSync, readFileSync } from 'node:fs';

const [checksPassed, checksFailed, jestReport, playwrightReport] =
  process.argv.slice(2);

function readReport(path) {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

function jestCounts(report) {
  if (!report) return { passed: 0, failed: 1, suite: 'jest: no report' };
  // A test file that fails to load has no failing test but a failed suite: count it.
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + report.numRuntimeErrorTestSuites,
    suite: `jest: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numRuntimeErrorTestSuites} suites did not run`,
  };
}

function playwrightCounts(report) {
  if (!report) return { passed: 0, failed: 1, suite: 'playwright: no report' };
  const { expected = 0, unexpected = 0, flaky = 0 } = report.stats;
  const setupFailures = report.errors?.length ?? 0;
  return {
    passed: expected + flaky,
    failed: unexpected + setupFailures,
    suite: `playwright: ${
      expected + flaky
    } passed, ${unexpected} failed, ${setupFailures} setup errors`,
  };
}

const suites = [
  {
    passed: Number(checksPassed),
    failed: Number(checksFailed),
    suite: `checks (type check, lint): ${checksPassed} passed, ${checksFailed} failed`,
  },
  jestCounts(readReport(jestReport)),
  playwrightCounts(readReport(playwrightReport)),
];
for (const { suite } of suites) console.log(`  ${suite}`);
const passed = suites.reduce((sum, s) => sum + s.passed, 0);
const failed = suites.reduce((sum, s) => sum + s.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
