// Browser test of the registry pages in headless Chromium (Debian's /usr/bin/chromium).
//
//   node registry.mjs <base-url> <password> <username>
//
// Logs in through the form, opens base R08 and its registry through the header
// nav, opens one enterprise, submits the new-enterprise form with a wrong USCC
// check character and sees the Chinese field error, then logs out and checks
// that the base is no longer reachable. Prints one line per step; on failure
// prints what went wrong, saves a screenshot to $TMPDIR and exits non-zero.
//
// Run by `cargo test` (crates/chuangtong/tests/it/browser.rs); install the
// dependencies with scripts/install-test-deps.sh.

import { args, check, logIn, logOut, page, pathOf, run, step, url, waitForPath } from './harness.mjs';

// The demo data's base administered by the demo account fz-admin.
const BASE_CODE = 'R08';
const BASE_NAME = '福建福州新区';
const WRONG_USCC = '91350100M000100Y44';

const [username] = args('registry.mjs', ['<username>']);

await run(async () => {
  await step('log in through the form', async () => {
    await logIn(username);
    await page.locator('h1', { hasText: '我的基地' }).waitFor();
    return `${username} at ${pathOf(page.url())}`;
  });

  await step(`open base ${BASE_CODE} from the home page`, async () => {
    const card = page.locator(`a.card[href="/b/${BASE_CODE}"]`);
    await card.waitFor();
    const text = (await card.innerText()).trim();
    check(text.includes(BASE_NAME), `card for ${BASE_CODE} does not name ${BASE_NAME}: "${text}"`);
    await card.click();
    await waitForPath((p) => p === `/b/${BASE_CODE}`, `/b/${BASE_CODE}`);
    return pathOf(page.url());
  });

  let firstRow;
  await step('open the registry through the header nav', async () => {
    await page.locator('header nav').getByRole('link', { name: '注册库', exact: true }).click();
    await waitForPath(
      (p) => p === `/b/${BASE_CODE}/registry/enterprises`,
      `/b/${BASE_CODE}/registry/enterprises`,
    );
    const rows = page.locator('#enterprises tbody tr');
    await rows.first().waitFor();
    const count = await rows.count();
    check(count > 0, 'the enterprises table has no rows');
    const cells = rows.first().locator('td');
    firstRow = {
      name: (await cells.nth(0).locator('a').innerText()).trim(),
      uscc: (await cells.nth(1).innerText()).trim(),
    };
    check(/^[0-9A-Z]{18}$/.test(firstRow.uscc), `first row has no 18-character USCC: "${firstRow.uscc}"`);
    return `${count} rows`;
  });

  await step('open one enterprise', async () => {
    await page.locator('#enterprises tbody tr').first().locator('td').first().locator('a').click();
    await waitForPath(
      (p) => /^\/b\/[^/]+\/registry\/enterprises\/[^/]+$/.test(p) && !p.endsWith('/new'),
      'an enterprise detail page',
    );
    const table = page.locator('#enterprise');
    await table.waitFor();
    const row = table.locator('tr', { hasText: '统一社会信用代码' });
    check((await row.count()) === 1, 'the enterprise table has no 统一社会信用代码 row');
    const uscc = (await row.locator('td').innerText()).trim();
    check(uscc === firstRow.uscc, `统一社会信用代码 is "${uscc}", the list showed "${firstRow.uscc}"`);
    const h1 = (await page.locator('h1').innerText()).trim();
    check(h1.includes(firstRow.name), `heading "${h1}" does not name "${firstRow.name}"`);
    return `${firstRow.name} 统一社会信用代码 ${uscc}`;
  });

  await step('new-enterprise form rejects a wrong USCC check character', async () => {
    await page.goto(url(`/b/${BASE_CODE}/registry/enterprises`));
    await page.locator('#new-enterprise').click();
    await waitForPath(
      (p) => p === `/b/${BASE_CODE}/registry/enterprises/new`,
      `/b/${BASE_CODE}/registry/enterprises/new`,
    );
    await page.locator('#name').fill('浏览器测试有限公司');
    await page.locator('#uscc').fill(WRONG_USCC);
    await page.locator('#save-enterprise').click();
    const error = page.locator('#error-uscc');
    try {
      await error.waitFor();
    } catch {
      throw new Error(`no #error-uscc after submitting ${WRONG_USCC} (page at ${page.url()})`);
    }
    const message = (await error.innerText()).trim();
    check(message.includes('校验码'), `#error-uscc does not mention 校验码: "${message}"`);
    check(
      (await page.locator('#uscc').getAttribute('aria-invalid')) === 'true',
      '#uscc is not marked aria-invalid',
    );
    check(
      (await page.locator('#uscc').inputValue()) === WRONG_USCC,
      'the form did not keep the submitted USCC',
    );
    return message;
  });

  await step('log out', async () => {
    await logOut();
    await page.locator('#login-submit').waitFor();
    return pathOf(page.url());
  });

  await step(`/b/${BASE_CODE} redirects to /login after logout`, async () => {
    const resp = await page.goto(url(`/b/${BASE_CODE}`));
    check(resp !== null, 'no response');
    const landed = pathOf(page.url());
    check(landed === '/login', `GET /b/${BASE_CODE} ended at ${page.url()} (status ${resp.status()})`);
    check(resp.request().redirectedFrom() !== null, `GET /b/${BASE_CODE} was not redirected`);
    await page.locator('#login-submit').waitFor();
    return `→ ${landed}`;
  });
}, { watchdogMs: 120_000 });
