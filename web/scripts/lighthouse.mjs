// Lighthouse mobile scores (simulated slow 4G, 4x CPU) of the client's pages, signed out and
// signed in: Lighthouse drives a Chromium tab in which this script has signed in the persona
// (the token in the tab's sessionStorage, where the client keeps it), and the storage reset is
// off so the sign-in survives. Usage: node lighthouse.mjs BASE_URL (scripts/lighthouse.sh).
import path from 'node:path'

const base = process.argv[2]
const tools = process.env.LIGHTHOUSE_DIR
if (!base || !tools) throw new Error('usage: LIGHTHOUSE_DIR=… node lighthouse.mjs BASE_URL')
const load = (name, entry) => import(path.resolve(tools, 'node_modules', name, entry))
const { default: lighthouse } = await load('lighthouse', 'core/index.js')
const { default: puppeteer } = await load('puppeteer-core', 'lib/esm/puppeteer/puppeteer-core.js')

const personas = await (await fetch(`${base}/dev/tokens`)).json()
const demo = await (
  await fetch(`${base}/authorize/enterprises?name=${encodeURIComponent('深圳市示例科技有限公司')}`, {
    headers: { authorization: `Bearer ${personas.agent.token}` },
  })
).json()
const uscc = demo[0].uscc

/** [page, who is signed in (null: signed out), route, what the page must show once loaded: a
 * selector, so a page that fell back to an error or sign-in state is not measured as if it had
 * worked]. */
const PAGES = [
  ['首页', null, '/', '.van-grid'],
  ['采样点查询', 'employee', '/#/sites', '[data-testid="site"]'],
  ['疫情防控服务', 'agent', '/#/service', '.name'],
  ['核酸检测概览', 'agent', `/#/e/${uscc}/nucleic`, '[data-testid="total"]'],
  ['核酸检测名单（超72小时）', 'agent', `/#/e/${uscc}/nucleic/over_72h`, '[role="article"]'],
  ['疫苗接种概览', 'agent', `/#/e/${uscc}/vaccine`, '[data-testid="total"]'],
  ['个人疫苗接种信息核查', 'employee', '/#/me/vaccination', '[data-testid="my-state"]'],
  ['经办人（法定代表人）', 'legal_rep', `/#/e/${uscc}/agents`, '[data-testid="agent"]'],
]

const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
})
const flags = {
  formFactor: 'mobile',
  onlyCategories: ['performance', 'accessibility', 'best-practices'],
  disableStorageReset: true,
  logLevel: 'error',
}
const ms = (audit) => `${(audit.numericValue / 1000).toFixed(1)} s`
console.log('| page | signed in as | performance | accessibility | best practices | FCP | LCP | TBT | CLS |')
console.log('|---|---|---|---|---|---|---|---|---|')
for (const [name, who, route, shows] of PAGES) {
  const page = await browser.newPage()
  await page.goto(`${base}/`)
  await page.evaluate(
    (token) => (token ? sessionStorage.setItem('fyt.token', token) : sessionStorage.clear()),
    who ? personas[who].token : null,
  )
  const { lhr } = await lighthouse(`${base}${route}`, flags, undefined, page)
  if (!lhr.finalDisplayedUrl.includes(route.replace(/^\//, '')) || lhr.finalDisplayedUrl.includes('/authorize?')) {
    throw new Error(`${name}: ended at ${lhr.finalDisplayedUrl}, not ${route} (not signed in?)`)
  }
  if (!(await page.$(shows))) throw new Error(`${name}: ${shows} is not on the page`)
  const score = (c) => Math.round(lhr.categories[c].score * 100)
  const a = lhr.audits
  console.log(
    `| ${name} | ${who ?? '—'} | ${score('performance')} | ${score('accessibility')} | ${score('best-practices')} | ${ms(a['first-contentful-paint'])} | ${ms(a['largest-contentful-paint'])} | ${Math.round(a['total-blocking-time'].numericValue)} ms | ${a['cumulative-layout-shift'].numericValue.toFixed(2)} |`,
  )
  await page.close()
}
await browser.close()
