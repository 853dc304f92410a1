// Manual §5 邀请员工加入 and §6 joining: the agent makes an invitation with its link and poster;
// the employee opens the link on their phone, reads exactly what the enterprise will see, joins,
// finds the enterprise under 我的企业, and can withdraw the consent.
import { expect, test } from '@playwright/test'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import { accessible, anotherPhone, personas, shot, signInAs } from './helpers'

test('an employee joins by the agent’s invitation and can withdraw', async ({ page: agent, browser, request }) => {
  const people = await personas(request)
  await agent.goto('/#/service')
  await signInAs(agent, people.agent)
  await agent.getByText('邀请员工加入').click()
  await agent.getByRole('button', { name: '生成邀请' }).click()
  const url = (await agent.getByTestId('invitation-url').innerText()).trim()
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#\/join\/[\w.-]+/)
  const poster = agent.getByTestId('poster')
  await expect(poster).toBeVisible()
  // Drawn from the served SVG (at least 720 px wide, wider for a longer link's code) at twice
  // its size.
  expect(await poster.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThanOrEqual(1440)
  // The PNG the agent saves scans to the invitation link.
  const png = await poster.evaluate(async (img: HTMLImageElement) => {
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer())
    return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''))
  })
  const image = PNG.sync.read(Buffer.from(png, 'base64'))
  expect(jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data).toBe(url)
  await expect(agent.getByRole('link', { name: '保存海报' })).toHaveAttribute('download', /\.png$/)
  await accessible(agent)
  await shot(agent, 'invite-poster')

  const employee = await anotherPhone(browser)
  await employee.goto(url.replace(/^https?:\/\/[^/]+/, ''))
  await signInAs(employee, people.employee)
  await expect(employee.getByTestId('shared').first()).toBeVisible()
  await expect(employee.getByTestId('notice')).not.toBeEmpty()
  const join = employee.getByRole('button', { name: '同意并加入' })
  await expect(join).toBeDisabled()
  await accessible(employee)
  await shot(employee, 'join-consent')
  await employee.getByText('我已阅读并同意上述告知').click()
  await join.click()
  await expect(employee.getByTestId('joined')).toBeVisible()

  await employee.getByRole('button', { name: '查看我的企业' }).click()
  const employment = employee.getByTestId('employment').filter({ hasText: '邀请加入' })
  await expect(employment).toBeVisible()
  await shot(employee, 'my-enterprises')
  await employment.getByRole('button', { name: '撤回授权' }).click()
  await expect(employee.getByTestId('withdraw-outcome')).toContainText('企业不再能查看您的健康信息')

  // The agent withdraws the invitation (the poster went too far): the link then says so.
  await agent.reload()
  const made = agent.getByTestId('invitation').first()
  await expect(made).toContainText('已使用 1 次')
  await made.getByRole('button', { name: '撤回' }).click()
  await expect(agent.getByTestId('invitation').first()).toContainText('已撤回')
  await employee.goto(url.replace(/^https?:\/\/[^/]+/, ''))
  await expect(employee.getByTestId('invitation-problem')).toContainText('已被企业撤回')
  await shot(employee, 'join-revoked-invitation')
})

test('a broken invitation link says what happened and what to do', async ({ page, request }) => {
  const people = await personas(request)
  await page.goto('/#/join/not-a-real-invitation')
  await signInAs(page, people.employee)
  await expect(page.getByTestId('invitation-problem')).toContainText('邀请')
  await shot(page, 'join-broken-link')
})
