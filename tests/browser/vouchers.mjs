// Browser test of 创新券 and 服务超市 in headless Chromium (Debian's /usr/bin/chromium).
//
//   node vouchers.mjs <base-url> <password> <provider-name> <service-name> <category> <price-fen>
//
// The demo accounts of base R08 and the demo batch FZ-2026-01, through the
// pages only:
//   1. the enterprise (fz-enterprise) claims the batch (立即领取) and sees its
//      balance, orders <service-name> of fz-provider's <provider-name> in the
//      服务超市 paying half with the voucher, and sees the balance go down;
//   2. the provider (fz-provider) is refused a delivery without evidence,
//      then delivers with it;
//   3. the enterprise confirms the delivery;
//   4. the provider requests redemption; the base admin settles it;
//   5. the base admin reads the batch report: claimed, redeemed, wallets,
//      the category and provider rows, and that the ledger reconciles.
// Prints one line per step; on failure prints what went wrong, saves a
// screenshot to $TMPDIR and exits non-zero.
//
// Run by `cargo test` (crates/chuangtong/tests/it/browser.rs); install the
// dependencies with scripts/install-test-deps.sh.

import { args, check, logIn, logOut, page, run, step, text, url, waitForPath } from './harness.mjs';

const BASE = 'R08';
const BATCH_CODE = 'FZ-2026-01';
const BATCH_NAME = '2026年第一批科技创新券（模拟）';
const CAP_FEN = 200_000_00;
const COPAY_PERCENT = 50;

const [providerName, serviceName, category, priceArg] = args('vouchers.mjs', [
  '<provider-name>',
  '<service-name>',
  '<category>',
  '<price-fen>',
]);

/** Fen as the pages print them: grouped yuan with two decimals ("1,500.00"). */
function yuan(fen) {
  const whole = Math.trunc(fen / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${whole}.${String(fen % 100).padStart(2, '0')}`;
}
const PRICE_FEN = Number(priceArg);
const VOUCHER_FEN = Math.min(CAP_FEN, Math.floor((PRICE_FEN * COPAY_PERCENT) / 100));
const PRICE = yuan(PRICE_FEN);
const VOUCHER = yuan(VOUCHER_FEN);
const LEFT = yuan(CAP_FEN - VOUCHER_FEN);

/** What each category asks of a delivery (market::check_evidence). */
const EVIDENCE = {
  技术检测: ['report_number', 'JC-2026-0417', '技术检测类服务须填写检测报告编号'],
  专利服务: ['patent_application_number', '202610123456.7', '专利服务类须填写专利申请号，格式如 202610123456.7'],
  仪器共享: ['machine_hours', '12', '仪器共享类服务须填写使用机时（正整数）'],
};
const [evidenceField, evidenceValue, evidenceError] =
  EVIDENCE[category] ?? ['deliverable', '交付成果：服务报告一份', '请描述交付成果'];

await run(async () => {
  async function orderRow() {
    const rows = page.locator('#orders tbody tr');
    await rows.first().waitFor();
    check((await rows.count()) === 1, `expected one order, found ${await rows.count()}`);
    return rows.first();
  }

  async function orderCells() {
    return (await (await orderRow()).locator('td').allInnerTexts()).map((c) => c.trim());
  }

  await step('the enterprise claims the demo batch and sees its balance', async () => {
    await logIn('fz-enterprise');
    await page.goto(url(`/b/${BASE}/vouchers`));
    const card = page.locator(`#batch-${BATCH_CODE}`);
    await card.waitFor();
    check((await card.innerText()).includes(BATCH_NAME), 'the card does not name the batch');
    check((await card.innerText()).includes(`每家最多 ${yuan(CAP_FEN)} 元`), `card: "${await card.innerText()}"`);
    await card.getByRole('button', { name: '立即领取' }).click();
    const notice = await text('#notice');
    check(notice === `已领取创新券 ${yuan(CAP_FEN)} 元`, `notice: "${notice}"`);
    const mine = await page.locator(`#batch-${BATCH_CODE} p.notice`).innerText();
    check(mine.trim() === `您已领取，可用余额 ${yuan(CAP_FEN)} 元`, `balance: "${mine}"`);
    check((await card.getByRole('button', { name: '立即领取' }).count()) === 0, 'the claim button is still there');
    return mine.trim();
  });

  await step('the enterprise orders the service, half paid with the voucher', async () => {
    await page.locator('.subnav a', { hasText: '服务超市' }).click();
    await waitForPath((p) => p === `/b/${BASE}/market`, 'the 服务超市');
    await page.locator('select[name="category"]').selectOption(category);
    await page.getByRole('button', { name: '筛选' }).click();
    await page.waitForURL((u) => u.searchParams.get('category') === category);
    const row = page.locator('#services tbody tr', { hasText: serviceName }).filter({ hasText: providerName });
    await row.waitFor();
    const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
    check(cells[1] === category && cells[3] === PRICE, `service row: ${cells.join(' | ')}`);
    await row.locator('select[name="batch_id"]').selectOption({ label: BATCH_NAME });
    await row.getByRole('button', { name: '下单' }).click();
    await waitForPath((p) => p === `/b/${BASE}/market/orders`, 'the orders page');
    const notice = await text('#notice');
    check(notice === `已下单：订单金额 ${PRICE} 元，其中创新券支付 ${VOUCHER} 元`, `notice: "${notice}"`);
    const o = await orderCells();
    check(o[1] === PRICE && o[2] === VOUCHER && o[3] === '已下单', `order row: ${o.join(' | ')}`);
    return notice;
  });

  await step('the voucher balance went down by the voucher part', async () => {
    await page.goto(url(`/b/${BASE}/vouchers`));
    const mine = (await text(`#batch-${BATCH_CODE} p.notice`));
    check(mine === `您已领取，可用余额 ${LEFT} 元`, `balance after the order: "${mine}"`);
    await logOut();
    return mine;
  });

  await step('the provider is refused a delivery without evidence', async () => {
    await logIn('fz-provider');
    await page.goto(url(`/b/${BASE}/market/orders`));
    const o = await orderCells();
    check(o[1] === PRICE && o[2] === VOUCHER && o[3] === '已下单', `provider's order row: ${o.join(' | ')}`);
    await (await orderRow()).getByRole('button', { name: '标记交付' }).click();
    const err = await text('#error');
    check(err === evidenceError, `error: "${err}"`);
    check((await orderCells())[3] === '已下单', 'the order changed state');
    return err;
  });

  await step('the provider delivers with evidence', async () => {
    await (await orderRow()).locator(`input[name="${evidenceField}"]`).fill(evidenceValue);
    await (await orderRow()).getByRole('button', { name: '标记交付' }).click();
    const notice = await text('#notice');
    check(notice === '已标记交付，等待企业确认', `notice: "${notice}"`);
    const o = await orderCells();
    check(o[3] === '已交付待确认', `state: "${o[3]}"`);
    await logOut();
    return `${evidenceField}=${evidenceValue}`;
  });

  await step('the enterprise confirms the delivery', async () => {
    await logIn('fz-enterprise');
    await page.goto(url(`/b/${BASE}/market/orders`));
    const row = await orderRow();
    await row.locator('select[name="rating"]').selectOption('5');
    await row.getByRole('button', { name: '确认交付' }).click();
    const notice = await text('#notice');
    check(notice === '已确认交付，创新券款项已划转', `notice: "${notice}"`);
    const o = await orderCells();
    check(o[3] === '已确认 · 评分 5', `state: "${o[3]}"`);
    await logOut();
    return o[3];
  });

  await step('the provider requests redemption', async () => {
    await logIn('fz-provider');
    await page.goto(url(`/b/${BASE}/market/orders`));
    await page.locator('#redeem').click();
    const notice = await text('#notice');
    check(notice === `已提交兑现申请：1 个订单，共 ${VOUCHER} 元`, `notice: "${notice}"`);
    const r = (await page.locator('#redemptions tbody tr').first().locator('td').allInnerTexts()).map((c) => c.trim());
    check(r[1] === providerName && r[2] === '1' && r[3] === VOUCHER && r[4] === '待结算', `redemption row: ${r.join(' | ')}`);
    await logOut();
    return notice;
  });

  await step('the base admin settles the redemption', async () => {
    await logIn('fz-admin');
    await page.goto(url(`/b/${BASE}/market/orders`));
    const row = page.locator('#redemptions tbody tr', { hasText: providerName });
    await row.waitFor();
    check((await row.innerText()).includes('待结算'), `row: "${await row.innerText()}"`);
    await row.getByRole('button', { name: '结算' }).click();
    const notice = await text('#notice');
    check(notice === `已兑现结算：1 个订单，共 ${VOUCHER} 元`, `notice: "${notice}"`);
    const r = (await page.locator('#redemptions tbody tr', { hasText: providerName }).locator('td').allInnerTexts()).map((c) => c.trim());
    check(r[4] === '已结算' && r[5] === '', `redemption row after settling: ${r.join(' | ')}`);
    const o = await orderCells();
    check(o[1] === PRICE && o[3].startsWith('已兑现'), `order row after settling: ${o.join(' | ')}`);
    return notice;
  });

  await step('the base admin reads the batch report', async () => {
    await page.goto(url(`/b/${BASE}/vouchers/reports`));
    const batchRow = page.locator('#batches tbody tr', { hasText: BATCH_CODE });
    await batchRow.waitFor();
    await batchRow.getByRole('link', { name: '报表' }).click();
    await waitForPath((p) => p.endsWith('/report'), 'the batch report');
    check((await text('h1')) === `批次报表：${BATCH_NAME}`, 'no report heading');
    const line = async (label) =>
      (await page.locator('#summary tbody tr').filter({ has: page.locator('td', { hasText: new RegExp(`^${label}$`) }) })
        .locator('td').allInnerTexts()).map((c) => c.trim());
    const claimed = await line('已申领');
    check(claimed[1] === '1' && claimed[2] === yuan(CAP_FEN), `已申领: ${claimed.join(' | ')}`);
    const redeemed = await line('已兑现');
    check(redeemed[1] === '1' && redeemed[2] === VOUCHER, `已兑现: ${redeemed.join(' | ')}`);
    const wallets = await line('钱包余额（未使用）');
    check(wallets[2] === LEFT, `钱包余额: ${wallets.join(' | ')}`);
    const rec = await text('#reconciles');
    check(rec.startsWith('核对一致'), `reconciliation: "${rec}"`);
    const byCat = (await page.locator('#by-category tbody tr', { hasText: category }).locator('td').allInnerTexts()).map((c) => c.trim());
    check(byCat[4] === `1 笔 / ${VOUCHER} 元`, `by category: ${byCat.join(' | ')}`);
    const byProv = (await page.locator('#by-provider tbody tr', { hasText: providerName }).locator('td').allInnerTexts()).map((c) => c.trim());
    check(byProv[4] === `1 笔 / ${VOUCHER} 元`, `by provider: ${byProv.join(' | ')}`);
    return `已申领 ${claimed[2]} · 已兑现 ${redeemed[2]} · 钱包 ${wallets[2]} · ${rec.split('：')[0]}`;
  });
});
