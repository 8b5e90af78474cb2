// Opens a crisp bench.html in headless Chromium and checks that it renders
// a section per workload (and for the density run), a table per workload,
// a latency CDF per RPC with a line per runtime, the throughput and
// density plots when the data has them, without script errors or network.
// Usage: node bench-report.mjs BENCH_HTML SCREENSHOT_PNG
import { pathToFileURL } from 'node:url';
import { args, checker, launch } from './checks.mjs';

const [html, png] = args(2, 'node bench-report.mjs BENCH_HTML SCREENSHOT_PNG');
const { check, done } = checker();
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const requests = [], errors = [];
  page.on('request', r => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-rendered="true"]');
  const data = JSON.parse(await page.locator('#data').textContent());
  const names = data.runtimes.map(r => r.name);
  check('a section per workload', await page.locator('h2').count() === data.workloads.length + (data.density ? 1 : 0));
  check('a table per workload', await page.locator('table').count() === data.workloads.filter(w => w.results).length);
  const first = data.workloads.find(w => w.results);
  const rpcs = new Set(names.flatMap(n => Object.keys(first.results[n].rpcs)));
  const section = page.locator(`h2[id="${first.id}"] + table + .plots .plot`);
  check('a CDF per RPC and one for the whole iteration', await section.count() === rpcs.size + 1,
        `${await section.count()} plots for ${rpcs.size} RPCs`);
  const lines = await section.first().locator('path.series').evaluateAll(ps => ps.map(p => p.dataset.runtime));
  check('a line per runtime', JSON.stringify(lines) === JSON.stringify(names), lines.join(','));
  check('each line drawn', (await section.first().locator('path.series').evaluateAll(ps => ps.every(p => p.getAttribute('d').length > 10))));
  if (data.workloads.some(w => w.concurrency)) {
    check('a throughput plot', await page.locator('.plot h3', { hasText: 'throughput by copies in flight' }).count() > 0);
  }
  if (data.density) {
    check('density plots', await page.locator('.plot h3', { hasText: 'by pods present' }).count() === 4);
  }
  const populated = data.workloads.filter(w => w.population);
  if (populated.length) {
    const expected = populated.map(w => new Set(
      [w.results, ...Object.values(w.population).map(v => v.results)].flatMap(r => names.flatMap(n => Object.keys((r[n] || {}).rpcs || {})))).size)
      .reduce((a, b) => a + b, 0);
    const plots = page.locator('.population .plot');
    check('a population plot per RPC', await plots.count() === expected, `${await plots.count()} of ${expected}`);
    // Each runtime's line goes through every level: at least two points.
    const segments = await plots.first().locator('path.series').evaluateAll(ps => ps.map(p => (p.getAttribute('d').match(/L/g) || []).length));
    check('population lines drawn for each runtime', segments.length === names.length && segments.every(n => n >= 1),
          segments.join(','));
  }
  await page.screenshot({ path: png, fullPage: true });
  check('no script errors', errors.length === 0, errors.join('; '));
  check('nothing fetched from the network', requests.length === 0, requests.join(', '));
} finally {
  await browser.close();
}
done('bench.html');
