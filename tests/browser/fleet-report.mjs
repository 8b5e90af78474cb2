// Opens a fleet matrix.html (crisp merge) in headless Chromium: the matrix
// checks of matrix-report.mjs hold, and the fleet section lists each node
// column with its group, runtime, kernel and OS, every group's columns, and
// the conflicts when there are any.
// Usage: node fleet-report.mjs HTML PNG
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { args, checker, launch } from './checks.mjs';

const [html, png] = args(2, 'node fleet-report.mjs FLEET_MATRIX_HTML SCREENSHOT_PNG');
const { check, done } = checker();
// The matrix itself first: its own checks, its own tally.
execFileSync('node', [join(dirname(fileURLToPath(import.meta.url)), 'matrix-report.mjs'), html, png],
             { stdio: 'inherit' });
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-rendered="true"]');
  const data = JSON.parse(await page.locator('#data').textContent());
  check('the page has the fleet data', !!data.fleet);
  const heading = await page.locator('#heading').textContent();
  check('the heading says fleet', heading.startsWith(`crisp fleet: ${data.fleet.nodes.length} node run`), heading);
  const rows = page.locator('#fleet tr.node');
  check('a row per node column', await rows.count() === data.fleet.nodes.length);
  for (let i = 0; i < data.fleet.nodes.length; i++) {
    const n = data.fleet.nodes[i];
    const text = await rows.nth(i).textContent();
    check(`row ${i + 1} shows ${n.column}: group, runtime, kernel, OS`,
          text.includes(`G${n.group}`) && text.includes(n.column) && text.includes(n.runtime_version) &&
          text.includes(n.kernel) && text.includes(n.os), text);
  }
  check('columns in group order', data.fleet.nodes.every((n, i, all) => i === 0 || all[i - 1].group <= n.group));
  check('the matrix columns are the node columns',
        JSON.stringify(data.runs.map(r => r.endpoint.name)) === JSON.stringify(data.fleet.nodes.map(n => n.column)));
  check('conflicts listed when there are any',
        await page.locator('ul.conflicts li').count() === data.fleet.conflicts.length);
  check('no script errors', errors.length === 0, errors.join('; '));
} finally {
  await browser.close();
}
done('fleet-report');
