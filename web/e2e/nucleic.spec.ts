// Manual §1, §3 and §4, walked by the enterprise's agent on a phone: sign in from the home page,
// 疫情防控服务, 核酸检测信息查询 with its 24/48/72/超72 h counts, a list scrolled page by page,
// 筛选, one employee's detail, and 导出 to an e-mail address followed until it is sent.
import { expect, test } from '@playwright/test'
import { accessible, apiGet, personas, shot, signInAs } from './helpers'

interface Summary {
  total: number
  in_shenzhen: number
  labels: Record<string, number>
}

test('the agent walks 核酸检测信息查询 from the home page to an export', async ({ page, request }) => {
  const people = await personas(request)
  const agent = people.agent
  const mine = await apiGet<{ items: Array<{ uscc: string; status: string }> }>(request, agent, '/authorize/me')
  const uscc = mine.items.find((a) => a.status === 'active')!.uscc
  const summary = await apiGet<Summary>(request, agent, `/nucleic/enterprises/${uscc}/summary`)

  // §1 and §3: the home page's 【防疫通】, signing in on the way, then 疫情防控服务.
  await page.goto('/')
  await expect(page.getByText('防疫通').first()).toBeVisible()
  await accessible(page)
  await shot(page, 'home')
  await page.getByText('防疫通').first().click()
  await signInAs(page, agent)
  await expect(page.getByText('疫情防控服务')).toBeVisible()
  await expect(page.getByText(uscc)).toBeVisible()
  await accessible(page)
  await shot(page, 'service')

  // §4 step 1: the counts the API gives, with how fresh they are.
  await page.getByText('核酸检测信息查询').click()
  await expect(page.getByTestId('total')).toHaveText(String(summary.total))
  await expect(page.getByTestId('in-shenzhen')).toHaveText(String(summary.in_shenzhen))
  for (const label of ['24h', '48h', '72h', 'over_72h', 'never']) {
    await expect(page.getByTestId(`label-${label}`)).toContainText(`${summary.labels[label] ?? 0} 人`)
  }
  await expect(page.getByTestId('freshness')).toContainText('数据更新于')
  await expect(page.getByTestId('freshness')).toContainText('不作为执行标准')
  await accessible(page)
  await shot(page, 'nucleic-overview')

  // §4 step 2: the 24-hour list, a page of 50 at a time as the person scrolls.
  const busiest = ['24h', '48h', '72h', 'over_72h'].reduce((a, b) =>
    (summary.labels[a] ?? 0) >= (summary.labels[b] ?? 0) ? a : b,
  )
  const expected = summary.labels[busiest] ?? 0
  expect(expected, 'the demo enterprise fills more than one page').toBeGreaterThan(50)
  await page.getByTestId(`label-${busiest}`).click()
  const rows = page.getByTestId('employee-row')
  await expect(rows).toHaveCount(50)
  await rows.last().scrollIntoViewIfNeeded()
  await page.mouse.wheel(0, 5000)
  await expect(rows).toHaveCount(Math.min(100, expected))
  await expect(rows.first()).toContainText('*')
  await accessible(page)
  await shot(page, 'nucleic-list')

  // 筛选: by surname; every row then carries it.
  const surname = (await rows.first().locator('.van-cell__title span').first().innerText()).slice(0, 1)
  await page.getByText('筛选').click()
  await page.getByLabel('姓名').fill(surname)
  await shot(page, 'nucleic-filter')
  await page.getByRole('button', { name: '确定' }).click()
  await expect(rows.first()).toBeVisible()
  for (const title of await rows.locator('.van-cell__title span').allInnerTexts()) {
    if (!title.includes('*')) expect(title.startsWith(surname), title).toBeTruthy()
  }

  // One employee's detail: masked ID, latest sampling and its result.
  await rows.first().click()
  await expect(page.getByText('员工核酸检测详情')).toBeVisible()
  await expect(page.getByText('证件号码')).toBeVisible()
  await expect(page.getByTestId('result')).toBeVisible()
  await accessible(page)
  await shot(page, 'nucleic-detail')
  await page.goBack()

  // §4(二) 导出: to an address, followed until the local worker has sent it.
  await page.getByRole('button', { name: '导出' }).click()
  await page.getByLabel('邮箱地址').fill('hr@example.cn')
  await page.getByRole('button', { name: '导出' }).last().click()
  await expect(page.getByTestId('export-status')).toBeVisible()
  await shot(page, 'nucleic-export')
  await expect(page.getByTestId('export-status')).toContainText('已发送到邮箱', { timeout: 30_000 })
})

test('a page opened signed out comes back after sign-in', async ({ page, request }) => {
  const people = await personas(request)
  const mine = await apiGet<{ items: Array<{ uscc: string; status: string }> }>(request, people.agent, '/authorize/me')
  const uscc = mine.items.find((a) => a.status === 'active')!.uscc
  await page.goto(`/#/e/${uscc}/nucleic`)
  await signInAs(page, people.agent)
  await expect(page).toHaveURL(new RegExp(`#/e/${uscc}/nucleic$`))
  await expect(page.getByTestId('total')).toBeVisible()
})

test('a network failure shows the reason and a retry, never a blank page', async ({ page, request }) => {
  const people = await personas(request)
  const mine = await apiGet<{ items: Array<{ uscc: string; status: string }> }>(request, people.agent, '/authorize/me')
  const uscc = mine.items.find((a) => a.status === 'active')!.uscc
  await page.goto('/#/signin?redirect=/service')
  await signInAs(page, people.agent)
  await expect(page.getByText('疫情防控服务')).toBeVisible()
  await page.route('**/nucleic/enterprises/*/summary', (route) => route.abort('internetdisconnected'))
  await page.goto(`/#/e/${uscc}/nucleic`)
  await expect(page.getByText('网络连接失败')).toBeVisible()
  await shot(page, 'network-failure')
  await page.unroute('**/nucleic/enterprises/*/summary')
  await page.getByRole('button', { name: '重试' }).click()
  await expect(page.getByTestId('total')).toBeVisible()
})

test('someone without an authorisation is told so on 疫情防控服务', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/service')
  await signInAs(page, people.employee)
  await expect(page.getByText('您还没有企业的授权')).toBeVisible()
})
