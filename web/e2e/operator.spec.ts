// Manual §9 and the operator's view: an offline grant for a foreign-led enterprise — a batch of
// two agents with the e-mailed materials — the paper originals recorded, the city's grants still
// awaiting their originals and those that lapsed, and the sync runs with their counts.
import { expect, test } from '@playwright/test'
import { accessible, personas, shot, signInAs, residentId } from './helpers'

test('the operator grants two agents offline and records the originals', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/')
  await page.getByRole('button', { name: '请登录' }).click()
  await signInAs(page, people.operator)
  await page.getByText('经办人线下授权').click()
  await page.getByLabel('企业全称').fill('深圳市环球贸易有限公司')
  await page.getByRole('button', { name: '查找企业' }).click()
  await page.getByLabel('姓名').first().fill('周经办')
  await page.getByLabel('证件号码').first().fill(residentId('19880808', 31))
  await page.getByRole('button', { name: /再添加一位经办人/ }).click()
  await page.getByLabel('姓名').nth(1).fill('吴经办')
  await page.getByLabel('证件号码').nth(1).fill(residentId('19920202', 42))
  const submit = page.getByRole('button', { name: '提交授权' })
  await expect(submit).toBeDisabled()
  for (const m of ['申请表', '营业执照', '法定代表人身份证明', '代理人身份证']) {
    await page.getByRole('checkbox', { name: new RegExp(m) }).click()
  }
  await page.getByLabel('邮件编号').fill('MAIL-2022-0415')
  await page.getByLabel('审核通过时间').fill(new Date(Date.now() - 3600_000).toISOString().slice(0, 16))
  await accessible(page)
  await shot(page, 'operator-offline-grant')
  await submit.click()
  const results = page.getByTestId('offline-result')
  await expect(results).toHaveCount(2)
  await expect(results.first()).toContainText('已授权')
  await expect(results.first()).toContainText('*')
  await results.first().getByRole('button', { name: '登记收到原件' }).click()
  await expect(results.first()).toContainText('已收到原件')
  await shot(page, 'operator-offline-result')
})

test('the operator chases the originals still awaited and sees the grants that lapsed', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/')
  await page.getByRole('button', { name: '请登录' }).click()
  await signInAs(page, people.operator)
  await page.getByText('线下授权原件').click()
  // The batch above: one agent's originals were recorded there, the other's are still awaited.
  const awaited = page.getByTestId('originals-awaited').filter({ hasText: '吴经办' })
  await expect(awaited).toContainText('深圳市环球贸易有限公司')
  await expect(awaited).toContainText('MAIL-2022-0415')
  await expect(awaited).toContainText(/剩 1[45] 天/)
  await expect(page.getByTestId('originals-awaited').filter({ hasText: '周经办' })).toHaveCount(0)
  await accessible(page)
  await shot(page, 'operator-originals-awaited')
  await awaited.getByRole('button', { name: '登记收到原件' }).click()
  await expect(awaited).toContainText('已收到原件')

  // The demo's grant of 20 days ago whose originals never came.
  await page.getByRole('tab', { name: '已失效' }).click()
  const lapsed = page.getByTestId('originals-lapsed').filter({ hasText: '郑经办' })
  await expect(lapsed).toContainText('已失效')
  await expect(lapsed).toContainText('*')
  await accessible(page)
  await shot(page, 'operator-originals-lapsed')

  // Recorded, the grant leaves the list of those awaited.
  await page.reload()
  await expect(page.getByText('没有待收原件的线下授权')).toBeVisible()
})

test('the operator reads the sync runs with their counts', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/ops/sync-runs')
  await signInAs(page, people.operator)
  await expect(page.getByTestId('run').first()).toBeVisible()
  await expect(page.getByTestId('delivery').filter({ hasText: '核酸检测' }).first()).toContainText('读取')
  await accessible(page)
  await shot(page, 'operator-sync-runs')
})

test('someone who is not an operator is refused, with the reason', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/ops/sync-runs')
  await signInAs(page, people.agent)
  await expect(page.getByText(/运营|operator/).first()).toBeVisible()
})
