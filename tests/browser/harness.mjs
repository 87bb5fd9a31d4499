// What every browser test script shares: its arguments, headless Chromium
// (Debian's /usr/bin/chromium) with its flags, numbered steps with their own
// time limit, a watchdog, and on failure the failing step, the page and a
// screenshot in $TMPDIR.
//
//   import { args, run, step, check, page, url } from './harness.mjs';
//   const [extra] = args('x.mjs', ['<extra>']);
//   await run(async () => { await step('…', async () => { … }); });
//
// Output: `ok N - step: detail (ms)` per step and `all N steps passed`;
// on failure `FAIL at step …` on stderr and exit code 1; 2 for wrong
// arguments, 3 when the watchdog fires.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const STEP_TIMEOUT_MS = 10_000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The current page; set by `run` when Chromium is launched. */
export let page;
/** The demo password, the second argument of every script. */
export let password;
let origin;
let browser;
let stepNo = 0;
const serverErrors = [];
const pageErrors = [];

/**
 * Parses `<base-url> <password>` and the script's own arguments (named in
 * `extra`, for the usage line); returns the latter. Exits 2 when any is missing.
 */
export function args(script, extra = []) {
  const [baseUrlArg, pw, ...rest] = process.argv.slice(2);
  if (!baseUrlArg || !pw || rest.length !== extra.length || rest.some((a) => !a)) {
    console.error(`usage: node ${script} ${['<base-url>', '<password>', ...extra].join(' ')}`);
    process.exit(2);
  }
  origin = baseUrlArg.replace(/\/+$/, '');
  password = pw;
  return rest;
}

export const url = (path) => origin + path;
export const pathOf = (u) => new URL(u).pathname;

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

export async function step(name, fn) {
  stepNo += 1;
  const started = Date.now();
  try {
    // Every Playwright call inside has its own 10 s timeout; this bounds the step as a whole.
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`step took longer than ${(STEP_TIMEOUT_MS * 2) / 1000} s`)),
        STEP_TIMEOUT_MS * 2,
      );
    });
    const work = fn();
    work.catch(() => {}); // if the step times out, its late failure must not crash the process
    const detail = await Promise.race([work, limit]).finally(() => clearTimeout(timer));
    check(serverErrors.length === 0, `server answered with an error: ${serverErrors.join('; ')}`);
    console.log(`ok ${stepNo} - ${name}${detail ? `: ${detail}` : ''} (${Date.now() - started} ms)`);
  } catch (err) {
    err.step = `${stepNo} - ${name}`;
    throw err;
  }
}

export async function waitForPath(predicate, what) {
  try {
    await page.waitForURL((u) => predicate(u.pathname), { timeout: STEP_TIMEOUT_MS });
  } catch {
    throw new Error(`expected to be at ${what}, but the page is at ${page.url()}`);
  }
}

/** Logs `user` in through the form, with the demo password. */
export async function logIn(user) {
  const resp = await page.goto(url('/login'));
  check(resp && resp.status() === 200, `GET /login answered ${resp && resp.status()}`);
  await page.locator('#username').fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#login-submit').click();
  await waitForPath((p) => p === '/', 'the home page after login');
}

export async function logOut() {
  await page.locator('#logout').click();
  await waitForPath((p) => p === '/login', '/login after logout');
}

/** The trimmed text of `selector`, once it is there. */
export async function text(selector) {
  const el = page.locator(selector);
  await el.waitFor();
  return (await el.innerText()).trim();
}

async function launch() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT_MS * 2,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const context = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  page.on('response', (r) => {
    if (r.status() >= 500) serverErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return `Chromium ${browser.version()}`;
}

/**
 * Launches Chromium (step 1), runs `steps`, checks the pages threw no
 * JavaScript error and reports; sets the exit code on failure.
 */
export async function run(steps, { watchdogMs = 150_000 } = {}) {
  // A hung browser must never hang `cargo test`.
  const watchdog = setTimeout(() => {
    console.error(`FAIL: watchdog: the browser test did not finish within ${watchdogMs / 1000} s`);
    process.exit(3);
  }, watchdogMs);
  watchdog.unref();
  try {
    await step('launch chromium', launch);
    await steps();
    check(pageErrors.length === 0, `JavaScript errors on the pages: ${pageErrors.join('; ')}`);
    console.log(`all ${stepNo} steps passed`);
  } catch (err) {
    process.exitCode = 1;
    console.error(`FAIL at step ${err.step ?? `${stepNo} (unnamed)`}: ${err.message}`);
    if (page) {
      try {
        const dir = mkdtempSync(join(tmpdir(), 'chuangtong-browser-'));
        const file = join(dir, `step-${stepNo}.png`);
        await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
        console.error(`  page: ${page.url()}`);
        console.error(`  screenshot: ${file}`);
      } catch (e) {
        console.error(`  (no screenshot: ${e.message})`);
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    clearTimeout(watchdog);
  }
}
