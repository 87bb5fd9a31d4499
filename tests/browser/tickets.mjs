// Browser test of 工单 and 服务管家 in headless Chromium (Debian's /usr/bin/chromium).
//
//   node tickets.mjs <base-url> <password>
//
// The demo accounts of base R08, through the pages only:
//   1. the enterprise (fz-enterprise) sees its steward, raises a ticket and
//      is told it went to that steward (首问负责);
//   2. the steward (fz-steward) sees the unread count in the header badge,
//      finds the notice in 消息, opens the ticket from it, is refused a
//      resolution without a note, accepts and resolves it;
//   3. the enterprise rates it (4 星) and the ticket is closed;
//   4. the base admin (fz-admin) reads the steward's row in the rankings.
// Prints one line per step; on failure prints what went wrong, saves a
// screenshot to $TMPDIR and exits non-zero.
//
// Run by `cargo test` (crates/chuangtong/tests/it/browser.rs); install the
// dependencies with scripts/install-test-deps.sh.

import { args, check, logIn, logOut, page, pathOf, run, step, text, url, waitForPath } from './harness.mjs';

const BASE = 'R08';
const STEWARD = '服务管家 陈管家';
const TITLE = '浏览器工单：研发费用加计扣除怎么申报';
const DESCRIPTION = '我司今年研发投入约 300 万元，想了解加计扣除的申报材料和时间。';

args('tickets.mjs');

await run(async () => {
  let ticketPath;
  await step('the enterprise sees its steward and raises a ticket', async () => {
    await logIn('fz-enterprise');
    await page.goto(url(`/b/${BASE}/tickets`));
    check((await text('h1')) === '工单 · 服务管家', 'no heading 工单 · 服务管家');
    const mine = await text('#my-steward');
    check(mine === STEWARD, `the enterprise's steward is "${mine}", not ${STEWARD}`);
    await page.locator('#category').selectOption({ label: '税务' });
    await page.locator('#title').fill(TITLE);
    await page.locator('#description').fill(DESCRIPTION);
    await page.locator('#raise button[type="submit"]').click();
    await waitForPath((p) => /^\/b\/R08\/tickets\/[^/]+$/.test(p) && !p.endsWith('/rankings'), 'the new ticket');
    ticketPath = pathOf(page.url());
    const notice = await text('#notice');
    check(notice === `工单已提交，已派给您的服务管家 ${STEWARD}`, `notice: "${notice}"`);
    const state = await text('#state');
    check(state === '待受理', `state after raising: "${state}"`);
    return `${ticketPath}: ${notice}`;
  });

  await step('the enterprise finds it in 我的工单', async () => {
    await page.locator('.subnav a', { hasText: '全部工单' }).click();
    await waitForPath((p) => p === `/b/${BASE}/tickets`, 'the tickets page');
    const row = page.locator('table.tickets tbody tr', { hasText: TITLE });
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    check(cells[1] === '税务' && cells[3] === '待受理' && cells[4] === STEWARD, `row: ${cells.join(' | ')}`);
    await logOut();
    return cells.slice(1, 5).join(' | ');
  });

  await step('the steward sees the unread badge and the notice in 消息', async () => {
    await logIn('fz-steward');
    await page.goto(url(`/b/${BASE}/tickets`));
    const badgeSrc = await page.locator('#nav-notifications img.unread').getAttribute('src');
    const svg = await (await page.request.get(url(badgeSrc))).text();
    const shown = /aria-label="未读(\d+)"/.exec(svg);
    check(shown && Number(shown[1]) >= 1, `the header badge shows no unread count: ${svg}`);
    await page.locator('#nav-notifications').click();
    await waitForPath((p) => p === `/b/${BASE}/notifications`, 'the notifications page');
    const unread = await text('#unread');
    check(unread === `未读 ${shown[1]}`, `inbox says "${unread}", the badge ${shown[1]}`);
    const row = page.locator('#notifications tbody tr', { hasText: `新工单（税务）：${TITLE}` });
    await row.waitFor();
    const rowText = await row.innerText();
    check(rowText.includes('未读') && rowText.includes('请在'), `the notice row: "${rowText}"`);
    await row.getByRole('button', { name: '查看' }).click();
    await waitForPath((p) => p === ticketPath, ticketPath);
    return `badge 未读${shown[1]}; ${rowText.split('\n')[0]}`;
  });

  await step('the notice is now read', async () => {
    await page.goto(url(`/b/${BASE}/notifications`));
    const row = page.locator('#notifications tbody tr', { hasText: `新工单（税务）：${TITLE}` });
    const status = (await row.locator('td').nth(2).innerText()).trim();
    check(status === '已读', `the notice is "${status}" after opening it`);
    await page.goto(url(ticketPath));
    return status;
  });

  await step('resolving without a note is refused in Chinese', async () => {
    check((await text('#state')) === '待受理', 'the steward does not see 待受理');
    await page.locator('#act-accept button').click();
    const notice = await text('#notice');
    check(notice === '已受理，当前状态：处理中', `notice after accept: "${notice}"`);
    check((await text('#state')) === '处理中', 'the state is not 处理中');
    await page.locator('#act-resolve button').click();
    const err = await text('#error');
    check(err === '请填写办结说明', `error: "${err}"`);
    check((await text('#state')) === '处理中', 'the state changed');
    return err;
  });

  await step('the steward resolves the ticket', async () => {
    await page.locator('#act-resolve textarea[name="note"]').fill('已电话说明申报材料与时间，附政策原文链接。');
    await page.locator('#act-resolve button').click();
    const notice = await text('#notice');
    check(notice === '已办结，当前状态：已解决待评价', `notice after resolve: "${notice}"`);
    const history = await text('#history');
    for (const e of ['受理', '办结']) check(history.includes(e), `history lacks ${e}: "${history}"`);
    await logOut();
    return notice;
  });

  await step('the enterprise rates it 4 星 and the ticket closes', async () => {
    await logIn('fz-enterprise');
    await page.goto(url(ticketPath));
    check((await text('#state')) === '已解决待评价', 'the enterprise does not see 已解决待评价');
    check((await page.locator('.card', { hasText: '办结说明' }).innerText()).includes('已电话说明申报材料与时间'),
      'the resolution is not shown to the enterprise');
    await page.locator('#act-rate select[name="rating"]').selectOption('4');
    await page.locator('#act-rate textarea[name="note"]').fill('响应及时');
    await page.locator('#act-rate button').click();
    const notice = await text('#notice');
    check(notice === '已评价，当前状态：已评价关闭', `notice after rating: "${notice}"`);
    const rating = await text('#rating');
    check(rating === '评价：4 星 · 响应及时', `rating: "${rating}"`);
    await logOut();
    return rating;
  });

  await step('the base admin reads the steward rankings', async () => {
    await logIn('fz-admin');
    await page.goto(url(`/b/${BASE}/tickets`));
    await page.locator('.subnav a', { hasText: '管家排行' }).click();
    await waitForPath((p) => p === `/b/${BASE}/tickets/rankings`, 'the rankings page');
    check((await text('h1')) === '服务管家排行', 'no heading 服务管家排行');
    const row = page.locator('#rankings tbody tr', { hasText: STEWARD });
    await row.waitFor();
    const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
    check(cells[2] === '1', `已办结: "${cells[2]}"`);
    check(cells[3] === '0', `在办: "${cells[3]}"`);
    check(cells[6] === '100.0%', `按时办结率: "${cells[6]}"`);
    check(cells[7] === '4.00 （1 条）' || cells[7] === '4.00（1 条）', `平均评分: "${cells[7]}"`);
    return cells.slice(1).join(' | ');
  });
});
