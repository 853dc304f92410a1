// The invitation poster arrives as an SVG (the server embeds no font); it is drawn here, in the
// phone's own CJK font, into the PNG the agent saves or forwards: chat apps and photo albums take
// PNGs, not SVGs. Twice the SVG's size, so it stays sharp on a phone screen and on paper.

const SCALE = 2

export async function posterPng(svg: Blob): Promise<Blob> {
  const source = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }))
  try {
    const image = new Image()
    image.src = source
    await image.decode()
    const canvas = document.createElement('canvas')
    canvas.width = image.naturalWidth * SCALE
    canvas.height = image.naturalHeight * SCALE
    const context = canvas.getContext('2d')
    if (!context) throw new Error('海报生成失败，请重试')
    context.scale(SCALE, SCALE)
    context.drawImage(image, 0, 0)
    return await new Promise((resolve, reject) =>
      canvas.toBlob((png) => (png ? resolve(png) : reject(new Error('海报生成失败，请重试'))), 'image/png'),
    )
  } finally {
    URL.revokeObjectURL(source)
  }
}
