// Reads a crisp junit.xml back with a standard JUnit consumer (junit2json)
// and checks it against results.json: counts, properties, and failure,
// error and skipped kept apart. Usage: node junit-readback.mjs JUNIT RESULTS
import { parse } from 'junit2json';
import { readFileSync } from 'node:fs';
import { args, checker } from './checks.mjs';

const [junitPath, resultsPath] = args(2, 'node junit-readback.mjs JUNIT_XML RESULTS_JSON');
const { check, done } = checker();

const junit = await parse(readFileSync(junitPath, 'utf8'));
const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
const suites = junit.testsuite ?? [];
const cases = suites.flatMap(s => s.testcase ?? []);
check('testsuites counts tests', junit.tests === results.summary.total, `${junit.tests} vs ${results.summary.total}`);
check('failures', junit.failures === results.summary.fail, `${junit.failures} vs ${results.summary.fail}`);
check('errors', junit.errors === results.summary.error, `${junit.errors} vs ${results.summary.error}`);
check('one testcase per scenario', cases.length === results.scenarios.length);
for (const suite of suites) {
  const names = (suite.properties ?? []).map(p => p.name);
  check(`testsuite ${suite.name} has endpoint and runtime properties`,
        names.includes('endpoint') && names.includes('runtime'), names.join(','));
}
for (const scenario of results.scenarios) {
  const testcase = cases.find(c => c.name.startsWith(scenario.id + ':'));
  if (!testcase) { check(`testcase for ${scenario.id}`, false, 'missing'); continue; }
  const kind = testcase.failure ? 'fail' : testcase.error ? 'error' : testcase.skipped ? 'skip' : 'pass';
  check(`${scenario.id} is a ${scenario.verdict} in JUnit`, kind === scenario.verdict, kind);
  check(`${scenario.id} carries its step trace`, (testcase['system-out'] ?? []).join('').includes('step 1'));
}
done('junit read-back');
