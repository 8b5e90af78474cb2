// Opens a crisp matrix.html in headless Chromium and checks that the matrix
// renders, that a click on a cell shows that cell's steps, and that the
// filters filter. Saves a screenshot, of the cell FOCUS (scenario id, on
// the last runtime) when given. Usage: node matrix-report.mjs HTML PNG [FOCUS]
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [html, png, focus] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: node matrix-report.mjs MATRIX_HTML SCREENSHOT_PNG');
  process.exit(2);
}
let failures = 0;
const check = (what, ok, detail = '') => {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}${ok ? '' : ': ' + detail}`);
  if (!ok) failures++;
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const requests = [];
  page.on('request', r => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  const started = Date.now();
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-rendered="true"]');
  console.log(`rendered in ${Date.now() - started} ms`);

  const data = JSON.parse(await page.locator('#data').textContent());
  const ids = new Set(data.runs.flatMap(r => r.scenarios.map(s => s.id)));
  const rows = await page.locator('tbody tr[data-id]').count();
  check('one row per scenario', rows === ids.size, `${rows} rows for ${ids.size} scenarios`);
  const cells = await page.locator('td.cell').count();
  check('one cell per scenario and runtime', cells === ids.size * data.runs.length, `${cells} cells`);
  check('runtime names and versions in the header',
        (await page.locator('#runtimes').textContent()).includes(data.runs[0].runtime.runtime_version));

  // A click on the second runtime's cell of the last scenario shows that cell.
  const cell = page.locator('td.cell[data-run="1"]').last();
  const id = await cell.getAttribute('data-id');
  await cell.click();
  const heading = await page.locator('#details h2').textContent();
  check('a click shows that cell', heading.startsWith(`${id} on ${data.runs[1].endpoint.name}`), heading);
  const steps = await page.locator('#details .step').count();
  const scenario = data.runs[1].scenarios.find(s => s.id === id);
  check('the cell shows each step', steps === scenario.steps.length, `${steps} of ${scenario.steps.length}`);
  // Each step either shows its behaviour diff against the other runtimes
  // or says that they behaved the same.
  const stepTexts = await page.locator('#details .step').allTextContents();
  check('each step compares with the other runtimes',
        stepTexts.every(t => t.includes('same behaviour on the other runtimes') || t.includes('field (normalised)') ||
                             t.includes('codes differ')), stepTexts.join(' | ').slice(0, 300));

  // A step with field differences shows them: path, and each runtime's value.
  const withFields = data.differences.find(d => d.fields.length > 0);
  if (withFields) {
    const runIndex = data.runs.findIndex(r => r.endpoint.name in withFields.fields[0].values);
    await page.locator(`td.cell[data-run="${runIndex}"][data-id="${withFields.scenario}"]`).click();
    const step = page.locator('#details .step').nth(withFields.step - 1);
    const table = await step.locator('table.diff').textContent();
    check('the diff view shows the differing field', table.includes(withFields.fields[0].path), table.slice(0, 200));
    check('the diff view names every runtime that answered',
          Object.keys(withFields.fields[0].values).every(n => table.includes(n)), table.slice(0, 200));
  } else {
    console.log('note: no field differences in this matrix; diff table not checked');
  }

  // Filters.
  const area = id.split('.')[0];
  await page.selectOption('#area', area);
  const inArea = [...ids].filter(i => i.split('.')[0] === area).length;
  check('the area filter keeps that area', await page.locator('tbody tr[data-id]').count() === inArea);
  await page.selectOption('#area', '');
  await page.selectOption('#verdict', 'pass');
  const anyPass = [...ids].filter(i => data.runs.some(r => (r.scenarios.find(s => s.id === i) || {}).verdict === 'pass')).length;
  check('the verdict filter', await page.locator('tbody tr[data-id]').count() === anyPass);
  for (const verdict of ['na', 'known']) {
    const expected = [...ids].filter(i => data.runs.some(r => (r.scenarios.find(s => s.id === i) || {}).verdict === verdict)).length;
    await page.selectOption('#verdict', verdict);
    check(`the ${verdict} filter`, await page.locator('tbody tr[data-id]').count() === expected);
  }
  await page.selectOption('#verdict', '');
  await page.check('#differ');
  const differ = await page.locator('tbody tr[data-id]').count();
  const marked = await page.locator('tbody tr[data-id]:has(td.differs)').count();
  check('"only where runtimes differ" keeps just those', differ === marked, `${differ} rows, ${marked} marked`);
  await page.uncheck('#differ');
  if (focus) {
    await page.locator(`td.cell[data-run="${data.runs.length - 1}"][data-id="${focus}"]`).click();
  } else {
    await cell.click();
  }

  // The whole page; CRISP_SCREENSHOT_HEIGHT=N keeps the top N pixels (README).
  const height = Number(process.env.CRISP_SCREENSHOT_HEIGHT || 0);
  const size = await page.evaluate(() => ({ width: document.documentElement.scrollWidth }));
  await page.screenshot(height ? { path: png, fullPage: true, clip: { x: 0, y: 0, width: size.width, height } }
                               : { path: png, fullPage: true });
  check('no script errors', errors.length === 0, errors.join('; '));
  check('nothing fetched from the network', requests.length === 0, requests.join(', '));
} finally {
  await browser.close();
}
console.log(failures === 0 ? 'matrix.html: all checks passed' : `matrix.html: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
