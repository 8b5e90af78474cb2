// Opens a crisp bench.html in headless Chromium and checks that it renders
// a section per workload (and for the density run), a table per workload,
// a latency CDF per RPC with a line per runtime, the throughput and
// density plots when the data has them, without script errors or network.
// Usage: node bench-report.mjs BENCH_HTML SCREENSHOT_PNG
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [html, png] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: node bench-report.mjs BENCH_HTML SCREENSHOT_PNG');
  process.exit(2);
}
let failures = 0;
const check = (what, ok, detail = '') => {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}${ok ? '' : ': ' + detail}`);
  if (!ok) failures++;
};
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
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
  await page.screenshot({ path: png, fullPage: true });
  check('no script errors', errors.length === 0, errors.join('; '));
  check('nothing fetched from the network', requests.length === 0, requests.join(', '));
} finally {
  await browser.close();
}
console.log(failures === 0 ? 'bench.html: all checks passed' : `bench.html: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
