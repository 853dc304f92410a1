import { createApp } from 'vue'
import App from './App.vue'
import { completeSignIn } from './oidc'
import { router } from './router'

// A return from the identity provider carries a code: exchanged before the first route, so the
// page asked for opens signed in.
completeSignIn()
  .then((returnTo) => {
    if (returnTo) return router.replace(returnTo)
  })
  .catch((e: Error) => router.replace({ path: '/signin', query: { error: e.message } }))
  .finally(() => createApp(App).use(router).mount('#app'))
