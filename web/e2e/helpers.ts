import {
  expect,
  test,
  type APIRequestContext,
  type Browser,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test'
import AxeBuilder from '@axe-core/playwright'
import path from 'node:path'

/** The phone-size screenshots the README shows (`docs/screenshots/`). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join('..', 'docs', 'screenshots', `${name}.png`) })
}

/** No serious or critical accessibility violation on the page as it is now. */
export async function accessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze()
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([])
}

export interface Persona {
  name: string
  token: string
}

/** The local stack's demo personas with fresh tokens. */
export async function personas(request: APIRequestContext): Promise<Record<string, Persona>> {
  const response = await request.get('/dev/tokens')
  expect(response.ok()).toBeTruthy()
  return response.json()
}

/** What the API answers `persona` at `path`: the figures a page must show. */
export async function apiGet<T>(request: APIRequestContext, persona: Persona, path: string): Promise<T> {
  const response = await request.get(path, { headers: { authorization: `Bearer ${persona.token}` } })
  expect(response.ok(), `${path}: ${response.status()}`).toBeTruthy()
  return response.json() as Promise<T>
}

/** Signs in on the sign-in page as `persona` (the page must be showing it). */
export async function signInAs(page: Page, persona: Persona): Promise<void> {
  await expect(page.getByText('选择您的身份')).toBeVisible()
  await page.getByText(persona.name, { exact: true }).click()
}

/** Another person's phone: a page in a fresh context (no shared sign-in) with the project's
 * phone settings. */
export async function anotherPhone(browser: Browser): Promise<Page> {
  const { baseURL, viewport, deviceScaleFactor, isMobile, hasTouch, locale, timezoneId } = test.info().project.use
  const options: BrowserContextOptions = {
    baseURL,
    viewport,
    deviceScaleFactor,
    isMobile,
    hasTouch,
    locale,
    timezoneId,
  }
  const context = await browser.newContext(options)
  return context.newPage()
}

/** A valid resident ID number (Futian district, GB 11643 check character), never a real
 * person's: born on `birth` (YYYYMMDD), with `sequence` (0-999). */
export function residentId(birth: string, sequence: number): string {
  const first17 = `440304${birth}${String(sequence).padStart(3, '0')}`
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = [...first17].reduce((s, c, i) => s + Number(c) * weights[i]!, 0)
  return first17 + '10X98765432'[sum % 11]
}
