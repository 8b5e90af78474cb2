// Opens a crisp matrix.html (or a run's report.html, the same page with one
// column) in headless Chromium and checks that the matrix renders with each
// runtime's totals and a legend, that a click on a cell shows that cell's
// steps, that the filters filter, that a #scenario@runtime link opens its
// cell and that arrow keys move between cells. Saves a screenshot, of the
// cell FOCUS (scenario id, on the last runtime) when given.
// Usage: node matrix-report.mjs HTML PNG [FOCUS]
import { pathToFileURL } from 'node:url';
import { args, checker, launch } from './checks.mjs';

const [html, png, focus] = args(2, 'node matrix-report.mjs MATRIX_HTML SCREENSHOT_PNG [FOCUS]');
const { check, done } = checker();
const browser = await launch();
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
  const totals = await page.locator('#runtimes .totals').allTextContents();
  check('each runtime\'s totals in the header',
        totals.length === data.runs.length &&
        data.runs.every((r, i) => totals[i].startsWith(`${r.summary.pass}/${r.summary.total} pass`)), totals.join(' | '));
  check('a pass-rate bar per runtime', await page.locator('#runtimes .bar').count() === data.runs.length);
  check('a legend', (await page.locator('.legend').textContent()).includes('runtimes differ'));
  const firstId = [...ids][0];
  const firstTitle = data.runs.flatMap(r => r.scenarios).find(s => s.id === firstId).title;
  check('scenario titles beside their IDs',
        (await page.locator(`tr[data-id="${firstId}"] td.sid`).textContent()).includes(firstTitle));
  // (a fleet's page: fleet-report.mjs checks its heading)
  const title = await page.locator('#heading').textContent();
  check('the heading says what the page is',
        data.fleet ? title.startsWith('crisp fleet: ')
                   : title === (data.runs.length === 1 ? `crisp run on ${data.runs[0].endpoint.name}` : 'crisp matrix'),
        title);

  // A click on the last runtime's cell of the last scenario shows that cell.
  const last = data.runs.length - 1;
  const cell = page.locator(`td.cell[data-run="${last}"]`).last();
  const id = await cell.getAttribute('data-id');
  await cell.click();
  const heading = await page.locator('#details h2').textContent();
  check('a click shows that cell', heading.startsWith(`${id} on ${data.runs[last].endpoint.name}`), heading);
  check('the click leaves a link to the cell in the address',
        decodeURIComponent(new URL(page.url()).hash) === `#${id}@${data.runs[last].endpoint.name}`, page.url());
  const steps = await page.locator('#details .step').count();
  const scenario = data.runs[last].scenarios.find(s => s.id === id);
  check('the cell shows each step', steps === scenario.steps.length, `${steps} of ${scenario.steps.length}`);
  // Each step either shows its behaviour diff against the other runtimes
  // or says that they behaved the same.
  const stepTexts = await page.locator('#details .step').allTextContents();
  if (data.runs.length > 1) {
    check('each step compares with the other runtimes',
          stepTexts.every(t => t.includes('same behaviour on the other runtimes') || t.includes('field (normalised)') ||
                               t.includes('codes differ')), stepTexts.join(' | ').slice(0, 300));
  }

  // Keyboard: up from the last row's cell selects the row above, same runtime.
  await page.keyboard.press('ArrowUp');
  const above = await page.locator('td.cell.selected').getAttribute('data-id');
  const order = await page.locator('tbody tr[data-id]').evaluateAll(rows => rows.map(r => r.dataset.id));
  check('ArrowUp selects the cell above', above === order[order.indexOf(id) - 1], `${above}`);
  check('and shows it', (await page.locator('#details h2').textContent()).startsWith(`${above} on `));

  // A link to a cell opens it.
  const target = order[0];
  await page.goto(pathToFileURL(html).href + `#${target}@${data.runs[0].endpoint.name}`);
  await page.waitForSelector('body[data-rendered="true"]');
  check('a #scenario@runtime link opens that cell',
        (await page.locator('#details h2').textContent()).startsWith(`${target} on ${data.runs[0].endpoint.name}`));

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
    // Its rows are grouped by kind, and the cell lists its differing steps by kind.
    const kind = withFields.fields[0].absent.length ? 'presence' : 'value';
    check(`the field's row is in the ${kind} group`,
          await step.locator(`table.diff tr[data-kind="${kind}"] td:text-is("${withFields.fields[0].path}")`).count() === 1);
    check('the group has its heading', await step.locator(`table.diff tr.kindrow[data-kind="${kind}"]`).count() === 1);
    const listed = page.locator(`#details .kinds li[data-kind="${kind}"] a.steplink[data-step="${withFields.step}"]`);
    check(`the step is listed under ${kind} differences`, await listed.count() === 1);
    await listed.click();
    check('a step link marks its step', await page.locator(`#details #step-${withFields.step}.flash`).count() === 1);
    check('and leaves the address at the cell', decodeURIComponent(new URL(page.url()).hash).startsWith(`#${withFields.scenario}@`),
          page.url());
    const expectedKinds = new Set();
    for (const d of data.differences.filter(d => d.scenario === withFields.scenario)) {
      if (new Set(Object.values(d.codes).filter(c => c)).size > 1) expectedKinds.add('code');
      for (const f of d.fields) expectedKinds.add(f.absent.length ? 'presence' : 'value');
    }
    const shownKinds = await page.locator('#details .kinds li').evaluateAll(items => items.map(i => i.dataset.kind));
    check('the kinds listed are those of the scenario\'s differences',
          JSON.stringify([...shownKinds].sort()) === JSON.stringify([...expectedKinds].sort()), shownKinds.join(','));
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
  for (const kind of ['code', 'presence', 'value', 'verdict']) {
    await page.selectOption('#kind', kind);
    const rowsOfKind = await page.locator('tbody tr[data-id]').count();
    const noted = await page.locator(`tbody tr[data-id] td.sid .diffnote:text-matches("differs:.*${kind}")`).count();
    check(`the ${kind} difference filter keeps rows noted so`, rowsOfKind === noted, `${rowsOfKind} rows, ${noted} noted`);
  }
  await page.selectOption('#kind', '');
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
done('matrix.html');
