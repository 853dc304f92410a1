import { createRouter, createWebHashHistory } from 'vue-router'
import { currentToken, signInRoute } from './auth'

// Hash routes: the client is one file at `/` beside the API's paths, and a link people are sent
// (`/#/share/…`, `/#/join/…`) opens it wherever it is served. Each section is its own chunk.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/signin', component: () => import('./pages/SignIn.vue'), meta: { open: true } },
    { path: '/', component: () => import('./pages/Home.vue'), meta: { open: true } },
    { path: '/service', component: () => import('./pages/Service.vue') },
    { path: '/apply', component: () => import('./pages/Apply.vue') },
    { path: '/me/permissions', component: () => import('./pages/Permissions.vue') },
    { path: '/share/:token', component: () => import('./pages/ShareLink.vue') },
    { path: '/legal-rep/pending', component: () => import('./pages/Pending.vue') },
    { path: '/e/:uscc/invite', component: () => import('./pages/Invite.vue') },
    { path: '/e/:uscc/vaccine', component: () => import('./pages/VaccineOverview.vue') },
    { path: '/e/:uscc/vaccine/:state', component: () => import('./pages/VaccineList.vue') },
    { path: '/e/:uscc/vaccine/employees/:employeeId', component: () => import('./pages/VaccineDetail.vue') },
    { path: '/e/:uscc/employees/new', component: () => import('./pages/AddEmployee.vue') },
    { path: '/me/vaccination', component: () => import('./pages/MyVaccination.vue') },
    { path: '/e/:uscc/agents', component: () => import('./pages/Agents.vue') },
    { path: '/e/:uscc/audit', component: () => import('./pages/Audit.vue') },
    { path: '/ops/offline', component: () => import('./pages/OfflineGrant.vue') },
    { path: '/ops/offline/originals', component: () => import('./pages/OfflineOriginals.vue') },
    { path: '/ops/sync-runs', component: () => import('./pages/SyncRuns.vue') },
    { path: '/sites', component: () => import('./pages/Sites.vue') },
    { path: '/zones', component: () => import('./pages/Zones.vue') },
    { path: '/join/:token', component: () => import('./pages/Join.vue') },
    { path: '/me/enterprises', component: () => import('./pages/MyEnterprises.vue') },
    { path: '/me/data', component: () => import('./pages/MyData.vue') },
    { path: '/e/:uscc/nucleic', component: () => import('./pages/NucleicOverview.vue') },
    { path: '/e/:uscc/nucleic/:label', component: () => import('./pages/NucleicList.vue') },
    { path: '/e/:uscc/nucleic/employees/:employeeId', component: () => import('./pages/NucleicDetail.vue') },
    { path: '/:unknown(.*)*', component: () => import('./pages/NotFound.vue'), meta: { open: true } },
  ],
})

// A page that needs a person sends them to sign in first, and back to it afterwards.
router.beforeEach((to) => {
  if (!to.meta.open && !currentToken()) return signInRoute(to.fullPath)
})
