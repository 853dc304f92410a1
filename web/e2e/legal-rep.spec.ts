// Manual §2, the legal rep's side: the enterprises they represent, their agents with how and
// until when each was authorised, 撤销授权, and the audit trail of who did what. Runs after
// authorize.spec.ts (files run in name order, one worker), whose applicant it revokes.
import { expect, test } from '@playwright/test'
import { accessible, personas, shot, signInAs } from './helpers'

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
