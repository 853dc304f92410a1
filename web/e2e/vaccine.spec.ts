// Manual §5 and §6 way 1: the agent's vaccination overview (booster-eligible and boosted
// included), a state's list, one employee's record with 代员工填写, 手动新增; and the employee's
// own 个人疫苗接种信息核查 with 修改信息.
import { expect, test } from '@playwright/test'
import { accessible, apiGet, personas, shot, signInAs, residentId } from './helpers'

interface Summary {
  total: number
  primary_series_complete: number
  states: Record<string, number>
}

test('the agent walks 疫苗接种信息查询, enters a dose and adds an employee by hand', async ({ page, request }) => {
  const people = await personas(request)
  const mine = await apiGet<{ items: Array<{ uscc: string; status: string }> }>(request, people.agent, '/authorize/me')
  const uscc = mine.items.find((a) => a.status === 'active')!.uscc
  const summary = await apiGet<Summary>(request, people.agent, `/vaccine/enterprises/${uscc}/summary`)

  await page.goto('/#/service')
  await signInAs(page, people.agent)
  await page.getByText('疫苗接种信息查询').click()
  await expect(page.getByTestId('total')).toHaveText(String(summary.total))
  await expect(page.getByTestId('primary-complete')).toHaveText(String(summary.primary_series_complete))
  for (const state of ['unvaccinated', 'partial', 'primary_complete', 'booster_eligible', 'boosted']) {
    await expect(page.getByTestId(`state-${state}`)).toContainText(`${summary.states[state] ?? 0} 人`)
  }
  await accessible(page)
  await shot(page, 'vaccine-overview')

  const busiest = Object.entries(summary.states).sort((a, b) => b[1] - a[1])[0]![0]
  await page.getByTestId(`state-${busiest}`).click()
  const rows = page.getByTestId('employee-row')
  await expect(rows.first()).toBeVisible()
  await accessible(page)
  await shot(page, 'vaccine-list')
  await rows.first().click()
  await expect(page.getByText('卫健委接种记录')).toBeVisible()
  await page.getByRole('button', { name: '代员工填写' }).click()
  await page.getByLabel('接种日期').fill('2022-03-01')
  await page.getByLabel('疫苗厂家').fill('北京生物')
  await page.getByLabel('备注').fill('社区卫生服务中心接种')
  await shot(page, 'vaccine-enter-dose')
  await page.getByRole('button', { name: '提交' }).click()
  await expect(page.getByTestId('reported-dose').filter({ hasText: '北京生物' })).toContainText('代填')
  await accessible(page)

  // 手动新增: a wrong ID number is refused with the reason, and what was typed stays.
  await page.goto(`/#/e/${uscc}/employees/new`)
  await page.getByLabel('姓名').fill('林小梅')
  const id = residentId('19900101', 77)
  await page.getByLabel('证件号码').fill(id.slice(0, 17) + (id.endsWith('1') ? '2' : '1'))
  await page.getByLabel('联系电话').fill('13800138000')
  await page.getByRole('button', { name: '提交' }).click()
  await expect(page.getByRole('alert')).toBeVisible()
  await expect(page.getByLabel('姓名')).toHaveValue('林小梅')
  await page.getByLabel('证件号码').fill(id)
  await page.getByRole('button', { name: '提交' }).click()
  await expect(page.getByTestId('added')).toContainText('林小梅')
  await expect(page.getByTestId('added')).toContainText('*')
  await expect(page.getByTestId('added')).not.toContainText(id)
  await accessible(page)
  await shot(page, 'vaccine-hand-added')
})

test('an employee checks their own record and asks for a correction', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/service')
  await signInAs(page, people.employee)
  await page.getByText('个人疫苗接种信息核查').click()
  await expect(page.getByTestId('my-state')).toBeVisible()
  await accessible(page)
  await shot(page, 'my-vaccination')
  await page.getByRole('button', { name: '修改信息' }).click()
  await page.getByLabel('接种日期').fill('2021-12-20')
  await page.getByLabel('疫苗厂家').fill('科兴中维')
  await page.getByRole('button', { name: '提交修改' }).click()
  await expect(page.getByTestId('reported-dose').filter({ hasText: '科兴中维' })).toContainText('本人修改')
})
