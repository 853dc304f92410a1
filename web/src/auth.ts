// Who is signed in: the bearer token the identity provider issued (`oidc.ts`), kept for this tab
// only (sessionStorage: closing the tab signs out, nothing lingers on a shared phone).

const TOKEN = 'fyt.token'

interface Payload {
  exp?: number
  name?: string
  roles?: string[]
}

function payload(token: string): Payload {
  try {
    const part = token.split('.')[1] ?? ''
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'))
    return JSON.parse(decodeURIComponent(escape(json))) as Payload
  } catch {
    return {}
  }
}

/** The token, unless there is none or it has expired. */
export function currentToken(): string | null {
  const token = sessionStorage.getItem(TOKEN)
  if (!token) return null
  const exp = payload(token).exp
  if (exp !== undefined && exp * 1000 <= Date.now()) {
    sessionStorage.removeItem(TOKEN)
    return null
  }
  return token
}

/** The signed-in person's name, as the token gives it. */
export function signedInName(): string | null {
  const token = currentToken()
  return token ? (payload(token).name ?? null) : null
}

/** Whether the signed-in person is a platform operator (运营专人); the API decides, this only
 * chooses what to offer. */
export function isOperator(): boolean {
  const token = currentToken()
  return token ? (payload(token).roles ?? []).includes('operator') : false
}

export function signIn(token: string): void {
  sessionStorage.setItem(TOKEN, token)
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN)
}

/** The sign-in page's address, coming back to `returnTo` (a route of this client) afterwards;
 * `fresh` asks the provider for a new face verification. */
export function signInRoute(returnTo: string, fresh = false): { path: string; query: Record<string, string> } {
  return { path: '/signin', query: fresh ? { redirect: returnTo, fresh: '1' } : { redirect: returnTo } }
}

/** Signs out and asks for a new sign-in (a new face verification), coming back to `returnTo`:
 * what a grant needs when the verification behind the current sign-in is too old. */
export function verifyAgainRoute(returnTo: string): { path: string; query: Record<string, string> } {
  signOut()
  return signInRoute(returnTo, true)
}
