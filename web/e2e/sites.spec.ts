// Manual §7 and §8, as anyone signed in walks them: sampling sites by 区 and 街道 and the nearest
// by the phone's location, with live status and waiting time; control zones by district and level,
// and whether a street is in one.
import { expect, test } from '@playwright/test'
import { accessible, apiGet, personas, shot, signInAs } from './helpers'

test.use({ geolocation: { longitude: 114.0579, latitude: 22.5431 }, permissions: ['geolocation'] })

interface Site {
  name: string
  district: string
  street: string
}

test('核酸采样点查询 by district and street, and the nearest', async ({ page, request }) => {
  const people = await personas(request)
  const all = await apiGet<{ sites: Site[] }>(request, people.employee, '/sites')
  const { district, street } = all.sites[0]!
  const inStreet = await apiGet<{ sites: Site[] }>(
    request,
    people.employee,
    `/sites?district=${encodeURIComponent(district)}&street=${encodeURIComponent(street)}`,
  )

  await page.goto('/#/service')
  await signInAs(page, people.employee)
  await page.getByText('核酸采样点查询').click()
  const sites = page.getByTestId('site')
  await expect(sites).toHaveCount(all.sites.length)
  await page.getByLabel('区', { exact: true }).selectOption(district)
  await page.getByLabel('街道').selectOption(street)
  await expect(sites).toHaveCount(inStreet.sites.length)
  await expect(sites.first()).toContainText(/正常采样|排队较多|暂停采样|已关闭/)
  await accessible(page)
  await shot(page, 'sites-by-street')

  await page.getByRole('button', { name: '查找附近的采样点' }).click()
  await expect(sites.first()).toContainText('距您')
  await shot(page, 'sites-nearest')
})

interface Zone {
  district: string
  street: string
  level: string
}

test('防控区域查询 by district, and whether a street is in a zone', async ({ page, request }) => {
  const people = await personas(request)
  const { zones } = await apiGet<{ zones: Zone[] }>(request, people.employee, '/zones')
  expect(zones.length).toBeGreaterThan(0)
  const zone = zones[0]!
  // The answer is the strictest level among the street's zones.
  const order = ['sealed', 'controlled', 'prevention']
  const strictest = zones
    .filter((z) => z.district === zone.district && z.street === zone.street)
    .map((z) => z.level)
    .sort((a, b) => order.indexOf(a) - order.indexOf(b))[0]!
  const levelText = { sealed: '封控区', controlled: '管控区', prevention: '防范区' }[strictest]!

  await page.goto('/#/zones')
  await signInAs(page, people.employee)
  await expect(page.getByTestId('zone')).toHaveCount(zones.length)
  await page.getByLabel('区', { exact: true }).selectOption(zone.district)
  await page.getByLabel('街道').selectOption(zone.street)
  await page.getByRole('button', { name: '查询' }).click()
  await expect(page.getByTestId('zone-check')).toContainText(levelText)
  await accessible(page)
  await shot(page, 'zones')
})
