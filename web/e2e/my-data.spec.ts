// 我的数据 (PIPL Art. 44–47): the employee reads everything held about them — including that the
// agent just opened their PCR record — and asks for deletion; the page then says what went and
// what stays, and why.
import { expect, test, type APIRequestContext } from '@playwright/test'
import { accessible, apiGet, personas, shot, signInAs, type Persona } from './helpers'

async function apiPost<T>(request: APIRequestContext, persona: Persona, path: string, body: unknown): Promise<T> {
  const response = await request.post(path, { headers: { authorization: `Bearer ${persona.token}` }, data: body })
  expect(response.ok(), `${path}: ${response.status()}`).toBeTruthy()
  return response.json() as Promise<T>
}

test('an employee sees who viewed their record and deletes what no ground keeps', async ({ page, request }) => {
  const people = await personas(request)
  const mine = await apiGet<{ items: Array<{ uscc: string; status: string }> }>(request, people.agent, '/authorize/me')
  const uscc = mine.items.find((a) => a.status === 'active')!.uscc
  // The employee (on the roster) joins by invitation, consenting; the agent opens their PCR record.
  const made = await apiPost<{ token: string }>(request, people.agent, `/invite/enterprises/${uscc}/invitations`, {})
  const opened = await apiGet<{ notice_version: string }>(request, people.employee, `/invite/open?token=${made.token}`)
  const joined = await apiPost<{ employee_id: string }>(request, people.employee, '/invite/join', {
    token: made.token,
    notice_version: opened.notice_version,
    consent: true,
  })
  await apiGet(request, people.agent, `/nucleic/enterprises/${uscc}/employees/${joined.employee_id}`)

  await page.goto('/')
  await page.getByRole('button', { name: '请登录' }).click()
  await signInAs(page, people.employee)
  await page.getByText('我的数据').click()
  const view = page.getByTestId('view').first()
  await expect(view).toContainText(people.agent.name)
  await expect(view).toContainText('核酸检测信息')
  const membership = page.getByTestId('membership').first()
  await expect(membership).toContainText('社保名单、邀请加入')
  await expect(membership).toContainText('企业可查看您的健康信息')
  await accessible(page)
  await shot(page, 'my-data')

  await page.getByRole('button', { name: '申请删除我的数据' }).click()
  await expect(page.getByText('删除后无法恢复')).toBeVisible()
  await page.getByRole('button', { name: '确定删除' }).click()
  const deletion = page.getByTestId('deletion')
  await expect(deletion).toContainText('删除已完成')
  await expect(deletion).toContainText('撤回授权 1 项')
  await expect(page.getByTestId('kept').filter({ hasText: '社保名单' })).toBeVisible()
  // Still on the roster, but the enterprise no longer sees the health data; the history is gone.
  await expect(page.getByTestId('membership').first()).toContainText('企业不能查看您的健康信息')
  await expect(page.getByTestId('membership').first()).not.toContainText('邀请加入')
  await expect(page.getByText('暂无查看记录')).toBeVisible()
  await expect(page.locator('.van-dialog')).toBeHidden()
  await accessible(page)
  await shot(page, 'my-data-deleted')
})
