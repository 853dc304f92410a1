// Manual §2: becoming an enterprise's agent. Method 1: 立即申请 → 分享法定代表人, and the legal
// rep opens the link on their own phone and grants. Method 2: 我的 → 我的权限 → 企业全称 → 申请原因
// → 提交申请, and the legal rep approves it in their pending list.
import { expect, test } from '@playwright/test'
import { accessible, anotherPhone, personas, shot, signInAs } from './helpers'

const ENTERPRISE = '深圳市示例科技有限公司'

test('method 1: the applicant shares a link and the legal rep grants through it', async ({
  page: applicant,
  browser,
  request,
}) => {
  const people = await personas(request)
  await applicant.goto('/#/service')
  await signInAs(applicant, people.applicant)
  await applicant.getByRole('button', { name: '立即申请' }).click()
  await applicant.getByLabel('企业全称').fill(ENTERPRISE)
  await applicant.getByRole('button', { name: '查找企业' }).click()
  await expect(applicant.getByTestId('enterprise-found')).toContainText(ENTERPRISE)
  await applicant.getByRole('button', { name: '分享法定代表人' }).click()
  const url = (await applicant.getByTestId('share-url').innerText()).trim()
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#\/share\/[\w.-]+/)
  await accessible(applicant)
  await shot(applicant, 'authorize-share-link')

  // The legal rep, on another phone, opens the link: sign in, then straight back to it.
  const legalRep = await anotherPhone(browser)
  await legalRep.goto(url.replace(/^https?:\/\/[^/]+/, ''))
  await signInAs(legalRep, people.legal_rep)
  await expect(legalRep.getByText(people.applicant.name)).toBeVisible()
  await expect(legalRep.getByText(ENTERPRISE)).toBeVisible()
  await accessible(legalRep)
  await shot(legalRep, 'authorize-legal-rep-opens-link')
  await legalRep.getByRole('button', { name: '同意授权' }).click()
  await expect(legalRep.getByTestId('decided')).toContainText(`已授权 ${people.applicant.name}`)

  // A link already used says so, and what to do.
  await legalRep.reload()
  await expect(legalRep.getByTestId('link-problem')).toContainText('已使用')
  await shot(legalRep, 'authorize-link-used')

  // The applicant now acts for the enterprise.
  await applicant.goto('/#/me/permissions')
  await expect(applicant.getByTestId('authorization').filter({ hasText: ENTERPRISE })).toContainText('已授权')
})

test('method 2: an application from 我的权限, approved in the legal rep’s pending list', async ({
  page: applicant,
  browser,
  request,
}) => {
  const people = await personas(request)
  await applicant.goto('/#/me/permissions')
  await signInAs(applicant, people.second_applicant)
  await applicant.getByRole('button', { name: '申请权限' }).click()
  await applicant.getByLabel('企业全称').fill(ENTERPRISE)
  await applicant.getByRole('button', { name: '查找企业' }).click()
  await applicant.getByLabel('申请原因').fill('负责公司员工核酸检测统计')
  await shot(applicant, 'authorize-application')
  await applicant.getByRole('button', { name: '提交申请' }).click()
  await expect(applicant.getByTestId('authorization').filter({ hasText: ENTERPRISE })).toContainText('待法定代表人审批')

  const legalRep = await anotherPhone(browser)
  await legalRep.goto('/#/service')
  await signInAs(legalRep, people.legal_rep)
  await legalRep.getByTestId('pending-link').click()
  const application = legalRep.getByTestId('pending').filter({ hasText: people.second_applicant.name })
  await expect(application).toContainText('负责公司员工核酸检测统计')
  await accessible(legalRep)
  await shot(legalRep, 'authorize-pending')
  await application.getByRole('button', { name: '同意' }).click()
  await expect(application).toContainText('已同意')

  await applicant.reload()
  await expect(applicant.getByTestId('authorization').filter({ hasText: ENTERPRISE })).toContainText('已授权')
})

test('a link that does not exist says what happened and what to do', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/share/not-a-real-link')
  await signInAs(page, people.legal_rep)
  await expect(page.getByTestId('link-problem')).toContainText('请向申请人索取新的链接')
})
