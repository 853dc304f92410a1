import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// Vant's components and their styles are imported where a page uses them, so each section's
// chunk carries only its own; `scripts/web.sh` checks the JavaScript loaded before the first page.
export default defineConfig({
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: 'src/components.d.ts' })],
  build: {
    target: 'es2020',
    outDir: 'dist',
    reportCompressedSize: true,
    manifest: true,
  },
})
