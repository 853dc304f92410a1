// Sending a link on from a phone: the share sheet where there is one (WeChat's browser, mobile
// browsers), else the clipboard, for pasting into a chat.

/** Whether the link went to the share sheet or was copied. */
export async function shareOrCopy(title: string, text: string, url: string): Promise<'shared' | 'copied'> {
  if (navigator.share) {
    try {
      await navigator.share({ title, text, url })
      return 'shared'
    } catch {
      // Dismissed, or not allowed here: copying still works.
    }
  }
  await navigator.clipboard?.writeText(url).catch(() => undefined)
  return 'copied'
}
