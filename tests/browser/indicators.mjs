// Browser test of the indicator pages in headless Chromium (Debian's /usr/bin/chromium).
//
//   node indicators.mjs <base-url> <password> <username> <uscc> <uscc>
//
// Logs in as a base admin, opens the indicator dashboard of R08 and checks its
// cards and SVG charts, imports an enterprise file with errors through the
// registry import page and sees every error listed (row, column, reason),
// imports the corrected file and sees it imported (progress page polled until
// done), finds the import in the history, opens the 双创工作月报 of the month
// and downloads it as Excel. Prints one line per step; on failure prints what
// went wrong, saves a screenshot to $TMPDIR and exits non-zero.
//
// Run by `cargo test` (crates/chuangtong/tests/it/browser.rs); install the
// dependencies with scripts/install-test-deps.sh.

import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, check, logIn, page, run, step, url, waitForPath } from './harness.mjs';

// The demo data's base administered by the demo account fz-admin.
const BASE_CODE = 'R08';

// Two valid 统一社会信用代码 not yet registered, computed by the Rust test.
const [username, ...USCC] = args('indicators.mjs', ['<username>', '<uscc>', '<uscc>']);

await run(async () => {
  await step('log in through the form', async () => {
    await logIn(username);
    return username;
  });

  await step('open the indicator dashboard', async () => {
    const resp = await page.goto(url(`/b/${BASE_CODE}/indicators`));
    check(resp && resp.status() === 200, `GET dashboard answered ${resp && resp.status()}`);
    const cards = page.locator('#cards .ind-card');
    await cards.first().waitFor();
    const count = await cards.count();
    check(count >= 20, `only ${count} indicator cards`);
    for (const key of ['new_enterprises', 'vouchers_claimed', 'applications_pass_rate', 'tickets_on_time']) {
      check((await page.locator(`#card-${key}`).count()) === 1, `no card for ${key}`);
    }
    check((await page.locator('#series svg').count()) === 1, 'no SVG time series');
    const total = (await page.locator('#card-enterprises .figure a').innerText()).trim();
    check(/^\d+$/.test(total), `enterprise total is not a number: "${total}"`);
    return `${count} cards, ${total} enterprises`;
  });

  const files = mkdtempSync(join(tmpdir(), 'chuangtong-import-'));
  const header = '统一社会信用代码,企业名称,所在地区代码,行业门类,成立日期,注册资本（元）,从业人数,高新技术企业,地址,联系人,联系电话';
  const ok1 = USCC[0];
  const ok2 = USCC[1];
  const wrongCheck = ok2.slice(0, 17) + (ok2[17] === '0' ? '1' : '0');
  const badFile = join(files, '企业名单.csv');
  writeFileSync(
    badFile,
    '\ufeff' +
      [
        header,
        `${ok1},浏览器导入甲公司,350105,I,2021-03-01,1000000,10,是,,,`,
        `${wrongCheck},浏览器导入乙公司,999999,I,2021-03-01,500000,5,否,,,`,
        `${ok1},浏览器导入甲公司重复,350105,I,2021-03-01,1000000,10,否,,,`,
      ].join('\r\n') +
      '\r\n',
  );

  await step('import a file with errors and see every error', async () => {
    await page.goto(url(`/b/${BASE_CODE}/registry/import`));
    await page.locator('#registry-file').setInputFiles(badFile);
    await page.locator('#registry-import-form button[type=submit]').click();
    await waitForPath((p) => p.startsWith(`/b/${BASE_CODE}/registry/imports/`), 'the import page');
    const errors = page.locator('#import-errors');
    await errors.waitFor({ timeout: 20_000 });
    const rows = page.locator('#import-errors tr.row-error');
    const n = await rows.count();
    const text = await errors.innerText();
    check(text.includes('未导入任何数据'), 'the page does not say nothing was imported');
    for (const want of ['第3行“统一社会信用代码”列', '第3行“所在地区代码”列', '第4行“统一社会信用代码”列：与第2行重复']) {
      check(text.includes(want), `no error "${want}" in: ${text}`);
    }
    return `${n} errors listed`;
  });

  const goodFile = join(files, '企业名单（修改后）.csv');
  writeFileSync(
    goodFile,
    '\ufeff' +
      [
        header,
        `${ok1},浏览器导入甲公司,350105,I,2021-03-01,1000000,10,是,,,`,
        `${ok2},浏览器导入乙公司,350105,I,2021-03-01,500000,5,否,,,`,
      ].join('\r\n') +
      '\r\n',
  );

  await step('fix the file and import it', async () => {
    await page.locator('#import-again').click();
    await waitForPath((p) => p === `/b/${BASE_CODE}/registry/import`, 'the import form');
    await page.locator('#registry-file').setInputFiles(goodFile);
    await page.locator('#registry-import-form button[type=submit]').click();
    await waitForPath((p) => p.startsWith(`/b/${BASE_CODE}/registry/imports/`), 'the import page');
    const done = page.locator('#import-ok');
    await done.waitFor({ timeout: 20_000 });
    const text = (await done.innerText()).trim();
    check(text.includes('已导入 2 家企业'), `unexpected result: "${text}"`);
    return text;
  });

  await step('the import is in the history and the firms are in the registry', async () => {
    await page.goto(url(`/b/${BASE_CODE}/registry/import`));
    const first = page.locator('#registry-import-history tbody tr').first();
    await first.waitFor();
    const row = await first.innerText();
    check(row.includes('企业名单（修改后）.csv') && row.includes('已导入'), `newest history row: ${row}`);
    await page.goto(url(`/b/${BASE_CODE}/registry/enterprises?q=${encodeURIComponent('浏览器导入')}`));
    const n = await page.locator('#enterprises tbody tr').count();
    check(n === 2, `${n} imported firms found in the registry`);
    return row.replace(/\s+/g, ' ');
  });

  await step('open the monthly report and download it as Excel', async () => {
    await page.goto(url(`/b/${BASE_CODE}/indicators`));
    await page.locator('.subnav').getByRole('link', { name: '双创工作月报' }).click();
    await waitForPath((p) => p === `/b/${BASE_CODE}/indicators/report`, 'the monthly report');
    const report = page.locator('#monthly-report');
    await report.waitFor();
    const title = (await report.locator('h1').innerText()).trim();
    check(title.includes('双创工作月报'), `report title: ${title}`);
    const imported = page.locator('#report-events li[data-kind="registry.imported"]');
    check((await imported.getAttribute('data-count')) !== '0', 'the import is not among the notable events');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#report-xlsx').click()]);
    const name = download.suggestedFilename();
    check(/^monthly-report-R08-\d{4}-\d{2}\.xlsx$/.test(name), `download named ${name}`);
    const file = join(files, name);
    await download.saveAs(file);
    const bytes = readFileSync(file);
    check(bytes.length > 1000 && bytes[0] === 0x50 && bytes[1] === 0x4b, 'the download is not an .xlsx (zip) file');
    return `${name}, ${bytes.length} bytes`;
  });
}, { watchdogMs: 120_000 });
