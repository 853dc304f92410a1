// Manual §1 signing in, as deployed: the client goes to the identity provider with a PKCE
// challenge, comes back with a one-time code, and exchanges it (with the verifier) for the token;
// locally the provider is the local stack's stand-in, whose login page lists the demo personas in
// place of the face verification.
import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { personas, shot, signInAs } from './helpers'

interface ClientConfig {
  authorizationEndpoint: string
  tokenEndpoint: string
  clientId: string
}

test('signing in goes through the provider with PKCE and leaves no code behind', async ({ page, request }) => {
  const people = await personas(request)
  const config: ClientConfig = await (await request.get('/client-config.json')).json()
  await page.goto('/#/me/permissions')
  await expect(page).toHaveURL(new RegExp(`^${config.authorizationEndpoint}\\?`))
  const asked = new URL(page.url())
  expect(asked.searchParams.get('code_challenge_method')).toBe('S256')
  expect(asked.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/)
  expect(asked.searchParams.get('client_id')).toBe(config.clientId)
  await shot(page, 'signin-provider')
  await signInAs(page, people.agent)
  await expect(page.getByText('我的授权')).toBeVisible()
  expect(page.url()).not.toContain('code=')
  expect(page.url()).toMatch(/#\/me\/permissions$/)
})

test('a code comes back only once, and only for its verifier', async ({ request }) => {
  const config: ClientConfig = await (await request.get('/client-config.json')).json()
  const verifier = 'a-verifier-of-at-least-forty-three-characters-0123'
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const redirectUri = 'http://127.0.0.1/'
  const provider = new URL(config.authorizationEndpoint).origin
  const chosen = await request.get(
    `${provider}/authorize/choose?${new URLSearchParams({
      role: 'agent',
      client_id: config.clientId,
      redirect_uri: redirectUri,
      state: 's',
      code_challenge: challenge,
    })}`,
    { maxRedirects: 0 },
  )
  expect(chosen.status()).toBe(303)
  const code = new URL(chosen.headers()['location']!).searchParams.get('code')!
  const exchange = (codeVerifier: string) =>
    request.post(config.tokenEndpoint, {
      form: {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: config.clientId,
        code_verifier: codeVerifier,
      },
    })
  // A wrong verifier spends the code: whoever intercepted it cannot use it, nor can the client.
  expect((await exchange('someone-elses-verifier')).status()).toBe(400)
  expect((await exchange(verifier)).status()).toBe(400)
})

test('the code, with its verifier, gives a token the API accepts', async ({ request }) => {
  const config: ClientConfig = await (await request.get('/client-config.json')).json()
  const verifier = 'another-verifier-of-at-least-forty-three-characters-9'
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const provider = new URL(config.authorizationEndpoint).origin
  const chosen = await request.get(
    `${provider}/authorize/choose?${new URLSearchParams({
      role: 'agent',
      client_id: config.clientId,
      redirect_uri: 'http://127.0.0.1/',
      state: 's',
      code_challenge: challenge,
    })}`,
    { maxRedirects: 0 },
  )
  const code = new URL(chosen.headers()['location']!).searchParams.get('code')!
  const form = {
    grant_type: 'authorization_code',
    code,
    redirect_uri: 'http://127.0.0.1/',
    client_id: config.clientId,
    code_verifier: verifier,
  }
  const tokens = await (await request.post(config.tokenEndpoint, { form })).json()
  const mine = await request.get('/authorize/me', { headers: { authorization: `Bearer ${tokens.access_token}` } })
  expect(mine.status()).toBe(200)
  // Once only.
  expect((await request.post(config.tokenEndpoint, { form })).status()).toBe(400)
})

test('a return that does not match the sign-in it started says so', async ({ page }) => {
  await page.goto('/?code=forged&state=forged#/')
  await expect(page.getByText('登录已失效，请重新登录')).toBeVisible()
  expect(page.url()).not.toContain('code=')
})
