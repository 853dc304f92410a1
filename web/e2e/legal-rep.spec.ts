// Manual §2, the legal rep's side: the enterprises they represent, their agents with how and
// until when each was authorised, 撤销授权, and the audit trail of who did what. Runs after
// authorize.spec.ts (files run in name order, one worker), whose applicant it revokes; then the
// applicant asks again and the legal rep, whose face verification is stale, verifies afresh.
import { expect, test } from '@playwright/test'
import { accessible, anotherPhone, personas, shot, signInAs } from './helpers'

test('the legal rep sees the agents and the audit trail, and revokes an agent', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/service')
  await signInAs(page, people.legal_rep)
  await expect(page.getByText('法定代表人').first()).toBeVisible()
  await page.getByText('经办人', { exact: true }).click()
  const agent = page.getByTestId('agent').filter({ hasText: people.agent.name })
  await expect(agent).toContainText('已授权')
  await expect(agent).toContainText('*')
  await accessible(page)
  await shot(page, 'legal-rep-agents')

  await page.goBack()
  await page.getByText('操作记录').click()
  await expect(page.getByTestId('audit').first()).toBeVisible()
  await expect(page.getByTestId('audit').filter({ hasText: '同意授权' }).first()).toBeVisible()
  await accessible(page)
  await shot(page, 'legal-rep-audit')

  // Revoking the applicant authorised in the share-link walk (the demo agent stays for the others).
  await page.goBack()
  await page.getByText('经办人', { exact: true }).click()
  const applicant = page.getByTestId('agent').filter({ hasText: people.applicant.name })
  await expect(applicant).toContainText('分享链接授权')
  await applicant.getByRole('button', { name: '撤销授权' }).click()
  await expect(applicant).toContainText('已撤销')
  await expect(applicant.getByRole('button', { name: '撤销授权' })).toHaveCount(0)
})

test('a legal rep whose face verification is stale verifies again and comes back to the link', async ({
  browser,
  request,
}) => {
  const people = await personas(request)
  // The applicant revoked above asks again, through a share link.
  const applicant = await anotherPhone(browser)
  await applicant.goto('/#/service')
  await signInAs(applicant, people.applicant)
  await applicant.getByRole('button', { name: '立即申请' }).click()
  await applicant.getByLabel('企业全称').fill('深圳市示例科技有限公司')
  await applicant.getByRole('button', { name: '查找企业' }).click()
  await applicant.getByRole('button', { name: '分享法定代表人' }).click()
  const link = (await applicant.getByTestId('share-url').innerText()).trim().replace(/^https?:\/\/[^/]+/, '')

  // The legal rep's phone signed in to 深i企 ten minutes ago: signing in carries on that session,
  // whose face verification is too old to grant with.
  const legalRep = await anotherPhone(browser)
  const config: { authorizationEndpoint: string } = await (await request.get('/client-config.json')).json()
  const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600
  await legalRep.context().addCookies([
    {
      name: 'dev_idp_session',
      value: `legal_rep.${tenMinutesAgo}`,
      url: new URL(config.authorizationEndpoint).origin,
    },
  ])
  await legalRep.goto(link)
  await signInAs(legalRep, people.legal_rep)
  await expect(legalRep.getByText(people.applicant.name)).toBeVisible()
  await expect(legalRep.getByText('授权前需要完成人脸识别认证')).toBeVisible()
  await expect(legalRep.getByRole('button', { name: '同意授权' })).toHaveCount(0)
  await accessible(legalRep)
  await shot(legalRep, 'authorize-face-stale')

  // Back through the provider, which must verify the face afresh (max_age=0), then to the link.
  await legalRep.getByRole('button', { name: '人脸识别认证' }).click()
  await expect(legalRep).toHaveURL(/[?&]max_age=0(&|$)/)
  await signInAs(legalRep, people.legal_rep)
  await expect(legalRep).toHaveURL(/#\/share\//)
  await legalRep.getByRole('button', { name: '同意授权' }).click()
  await expect(legalRep.getByTestId('decided')).toContainText(`已授权 ${people.applicant.name}`)
})
