// Signing in through the identity provider: OpenID Connect's authorization-code flow with PKCE
// (RFC 7636), the flow for an app in a browser, which can keep no client secret. The provider's
// endpoints come from `/client-config.json` (locally the local stack's stand-in provider; deployed,
// the file `make deploy-web` uploads beside the client).
import { signIn } from './auth'

interface ClientConfig {
  authorizationEndpoint: string
  tokenEndpoint: string
  clientId: string
}

/** What is kept across the trip to the provider (this tab only). */
interface Pending {
  state: string
  verifier: string
  returnTo: string
}

const PENDING = 'fyt.signin'

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

function random(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)))
}

async function config(): Promise<ClientConfig> {
  const response = await fetch('/client-config.json')
  if (!response.ok) throw new Error('无法连接登录服务，请稍后重试')
  return response.json() as Promise<ClientConfig>
}

/** The provider redirects here, the client's root: the query carries the code. */
function redirectUri(): string {
  return `${location.origin}/`
}

/** Goes to the provider to sign in (verifying the face again when `fresh`), to come back to
 * `returnTo`, a route of this client. */
export async function startSignIn(returnTo: string, fresh = false): Promise<void> {
  const { authorizationEndpoint, clientId } = await config()
  const pending: Pending = { state: random(16), verifier: random(32), returnTo }
  sessionStorage.setItem(PENDING, JSON.stringify(pending))
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier))),
  )
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })
  // A grant needs a face verification from the last minutes: ask the provider for a new one.
  if (fresh) query.set('max_age', '0')
  location.assign(`${authorizationEndpoint}?${query}`)
}

/** Back from the provider: exchanges the code for a token, and answers the route to return to
 * (null when this page load is not a return from the provider). */
export async function completeSignIn(): Promise<string | null> {
  const params = new URLSearchParams(location.search)
  const code = params.get('code')
  const state = params.get('state')
  if (!code || !state) return null
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as Pending | null
  sessionStorage.removeItem(PENDING)
  // The query must not stay in the address bar (or in the history) once used.
  history.replaceState(null, '', location.pathname + location.hash)
  if (!pending || pending.state !== state) throw new Error('登录已失效，请重新登录')
  const { tokenEndpoint, clientId } = await config()
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri(),
      client_id: clientId,
      code_verifier: pending.verifier,
    }),
  })
  if (!response.ok) throw new Error('登录失败，请重新登录')
  const tokens = (await response.json()) as { access_token: string }
  signIn(tokens.access_token)
  return pending.returnTo
}
