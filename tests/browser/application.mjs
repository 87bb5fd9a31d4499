// Browser test of the application screens in headless Chromium (Debian's /usr/bin/chromium).
//
//   node application.mjs <base-url> <password> <policy-title> <enterprise-user>
//
// The main path of a call for applications, through the pages only:
//   1. the base admin (fz-admin) creates a programme on the form, linked to
//      <policy-title>, with one required document, and sees it listed;
//   2. the enterprise (<enterprise-user>) finds it among the open calls,
//      saves a draft, is told the plan is missing, uploads a PDF, submits;
//   3. the steward (fz-steward) finds it in the pre-review queue with its
//      clock, opens it, downloads the document and accepts it;
//   4. the base admin opens the programme report and reads its figures.
// Prints one line per step; on failure prints what went wrong, saves a
// screenshot to $TMPDIR and exits non-zero.
//
// Run by `cargo test` (crates/chuangtong/tests/it/browser.rs); install the
// dependencies with scripts/install-test-deps.sh.

import { args, check, logIn, logOut, page, pathOf, run, step, text, url, waitForPath } from './harness.mjs';

const BASE = 'R08';
const CODE = 'WEB-B1';
const NAME = '浏览器申报批次';
const PLAN = Buffer.from('%PDF-1.7\n% 项目计划书\n%%EOF\n');

const [policyTitle, enterpriseUser] = args('application.mjs', ['<policy-title>', '<enterprise-user>']);

await run(async () => {
  await step('base admin opens the new-programme form', async () => {
    await logIn('fz-admin');
    await page.goto(url(`/b/${BASE}/programmes`));
    await page.locator('#new-programme').click();
    await waitForPath((p) => p === `/b/${BASE}/programmes/new`, 'the new-programme form');
    check((await text('h1')) === '新建申报批次', 'the form has no heading 新建申报批次');
    return pathOf(page.url());
  });

  await step('a missing budget comes back as a field error, the form kept', async () => {
    await page.locator('#code').fill(CODE);
    await page.locator('#name').fill(NAME);
    await page.locator('#policy_id').selectOption({ label: policyTitle });
    await page.locator('#create-programme').click();
    const errors = await text('#form-errors');
    check(errors.includes('预算') || errors.includes('金额'), `no budget error: "${errors}"`);
    check((await page.locator('#name').inputValue()) === NAME, 'the form lost the name');
    return errors.split('\n')[0];
  });

  await step('base admin creates the programme with a required document', async () => {
    await page.locator('#required_documents').fill('plan|项目计划书');
    await page.locator('#budget_yuan').fill('500000');
    await page.locator('#create-programme').click();
    await waitForPath((p) => p === `/b/${BASE}/programmes`, 'the programmes page');
    const notice = await text('#notice');
    check(notice.includes(NAME), `notice does not name the programme: "${notice}"`);
    const row = page.locator('#programmes tbody tr', { hasText: NAME });
    check((await row.count()) === 1, 'the programme is not in the list');
    check((await row.innerText()).includes('500,000.00') || (await row.innerText()).includes('500000'),
      `the list does not show the budget: "${await row.innerText()}"`);
    await logOut();
    return notice;
  });

  let casePath;
  await step('the enterprise finds the open call and saves a draft', async () => {
    await logIn(enterpriseUser);
    await page.goto(url(`/b/${BASE}/programmes`));
    const card = page.locator(`#open-${CODE}`);
    await card.waitFor();
    check((await card.innerText()).includes('项目计划书'), 'the call does not list its required document');
    await card.locator('input[name="f.project"]').fill('智能制造产线改造');
    await card.locator('input[name="amount_requested_yuan"]').fill('120000');
    await card.getByRole('button', { name: '保存申报草稿' }).click();
    await waitForPath((p) => /^\/b\/R08\/applications\/[^/]+$/.test(p), 'the application page');
    casePath = pathOf(page.url());
    check((await text('#state')) === '草稿', 'the application is not a draft');
    return casePath;
  });

  await step('submitting without the plan is refused in Chinese', async () => {
    await page.locator('#submit').click();
    const err = await text('#error');
    check(err.includes('请上传项目计划书'), `unexpected error: "${err}"`);
    check((await text('#state')) === '草稿', 'the state changed');
    return err;
  });

  await step('the enterprise uploads the plan and submits', async () => {
    await page.locator('#upload input[type="file"]').setInputFiles({
      name: '项目计划书.pdf',
      mimeType: 'application/pdf',
      buffer: PLAN,
    });
    await page.locator('#upload button').click();
    const notice = await text('#notice');
    check(notice.includes('已上传'), `no upload notice: "${notice}"`);
    check((await text('#documents')).includes('项目计划书.pdf'), 'the document is not listed');
    await page.locator('#submit').click();
    await page.locator('#notice').waitFor();
    const state = await text('#state');
    check(state === '已提交待受理', `state after submit: "${state}"`);
    await logOut();
    return state;
  });

  await step('the steward finds it in the pre-review queue and downloads the plan', async () => {
    await logIn('fz-steward');
    await page.goto(url(`/b/${BASE}/review-queue`));
    const row = page.locator('#queue tbody tr', { hasText: NAME });
    await row.first().waitFor();
    check((await row.innerText()).includes('受理/预审 限'), `no clock in the queue: "${await row.innerText()}"`);
    await row.first().locator('a').click();
    await waitForPath((p) => p === casePath, casePath);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#documents a').first().click(),
    ]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    check(Buffer.compare(readFileSync(path), PLAN) === 0, 'the downloaded plan differs from the upload');
    return download.suggestedFilename();
  });

  await step('the steward accepts it', async () => {
    await page.locator('#accept').click();
    await page.locator('#notice').waitFor();
    const state = await text('#state');
    check(state === '预审通过', `state after accept: "${state}"`);
    await logOut();
    return state;
  });

  await step('the base admin reads the programme report', async () => {
    await logIn('fz-admin');
    await page.goto(url(`/b/${BASE}/programmes`));
    await page.locator('#programmes a', { hasText: NAME }).click();
    await waitForPath((p) => p.endsWith('/report'), 'the programme report');
    const summary = await text('#summary');
    check(summary.includes('已提交 1 件'), `summary: "${summary}"`);
    check(summary.includes('申请 120,000.00 元') || summary.includes('申请 120000.00 元'), `summary amount: "${summary}"`);
    const pre = page.locator('#stages tbody tr', { hasText: '受理/预审' });
    const cells = await pre.locator('td').allInnerTexts();
    check(cells[2] === '1' && cells[3] === '1' && cells[4] === '100.00%', `pre-review row: ${cells.join(' | ')}`);
    const dep = await text('#departments');
    check(dep.includes('受理/预审') && dep.includes('100.00%'), `departments: "${dep}"`);
    return `${summary.split(' · ').slice(0, 2).join(' · ')}; 预审按时率 ${cells[4]}`;
  });
});
