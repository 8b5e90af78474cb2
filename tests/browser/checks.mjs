// What the browser checks share: arguments, a tally of checks, and Debian's
// Chromium started headless and offline.
import { chromium } from 'playwright-core';

// The command's arguments, or the usage line and exit 2 when one is missing.
export function args(count, usage) {
  const given = process.argv.slice(2);
  if (given.length < count || given.slice(0, count).some(a => !a)) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return given;
}

// check(what, ok, detail) prints ok/FAIL; done(name) prints the tally and exits.
export function checker() {
  let failures = 0;
  return {
    check(what, ok, detail = '') {
      console.log(`${ok ? 'ok' : 'FAIL'}: ${what}${ok ? '' : ': ' + detail}`);
      if (!ok) failures++;
    },
    done(name) {
      console.log(failures === 0 ? `${name}: all checks passed` : `${name}: ${failures} check(s) failed`);
      process.exit(failures === 0 ? 0 : 1);
    },
  };
}

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
