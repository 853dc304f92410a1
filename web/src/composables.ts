// What most pages share: one read with its loading and error states, and a list read a page at
// a time over the API's cursors.
import { onMounted, ref, type Ref } from 'vue'

interface Loaded<V> {
  value: Ref<V>
  loading: Ref<boolean>
  error: Ref<string | null>
  reload: () => Promise<void>
}

/** `read()` on mount (and on `reload`), with the states `AsyncState` shows; `value` holds
 * `initial` (else null) until the first read. */
export function useLoad<T>(read: () => Promise<T>): Loaded<T | null>
export function useLoad<T>(read: () => Promise<T>, initial: T): Loaded<T>
export function useLoad<T>(read: () => Promise<T>, initial: T | null = null): Loaded<T | null> {
  const value = ref(initial) as Ref<T | null>
  const loading = ref(true)
  const error = ref<string | null>(null)
  async function reload() {
    loading.value = true
    error.value = null
    try {
      value.value = await read()
    } catch (e) {
      error.value = (e as Error).message
    } finally {
      loading.value = false
    }
  }
  onMounted(reload)
  return { value, loading, error, reload }
}

/** A paged list's state and its two moves (what `PagedList` shows). */
export interface Paged<R> {
  items: Ref<R[]>
  loading: Ref<boolean>
  finished: Ref<boolean>
  error: Ref<boolean>
  errorText: Ref<string>
  more: () => Promise<void>
  restart: () => void
}

/** Pages of `fetch(cursor)` appended as `van-list` asks for more (`more`); `restart` begins again
 * (after a filter changed). `last` is the latest page, for what it says besides its items. */
export function usePaged<P extends { next_cursor?: string | null }, R>(
  fetch: (cursor: string | undefined) => Promise<P>,
  itemsOf: (page: P) => R[],
): Paged<R> & { last: Ref<P | null> } {
  const items = ref([]) as Ref<R[]>
  const last = ref(null) as Ref<P | null>
  const loading = ref(false)
  const finished = ref(false)
  const error = ref(false)
  const errorText = ref('')
  let cursor: string | undefined
  async function more() {
    try {
      const page = await fetch(cursor)
      last.value = page
      items.value.push(...itemsOf(page))
      cursor = page.next_cursor ?? undefined
      finished.value = !page.next_cursor
    } catch (e) {
      errorText.value = (e as Error).message
      error.value = true
    } finally {
      loading.value = false
    }
  }
  function restart() {
    items.value = []
    cursor = undefined
    finished.value = false
    error.value = false
    loading.value = true
    more()
  }
  return { items, last, loading, finished, error, errorText, more, restart }
}
