//! The invitation poster (邀请海报): a PNG with the enterprise's name, a QR code of the invitation
//! link and a short caption, for printing or forwarding in a chat group.
//!
//! Text is drawn with GNU Unifont (a bitmap font covering all of Chinese in the Basic
//! Multilingual Plane, embedded in the binary), so the poster needs no font files at run time.

use chrono::NaiveDate;
use qrcode::{Color, EcLevel, QrCode};

const WIDTH: u32 = 720;
const MARGIN: u32 = 48;
/// Unifont glyphs are 16 px high; the title is drawn 3×, the caption 2×.
const TITLE_SCALE: u32 = 3;
const CAPTION_SCALE: u32 = 2;
const QR_MODULE_PX: u32 = 12;

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error("the link does not fit in a QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// An 8-bit greyscale canvas.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            pixels: vec![255; (width * height) as usize],
        }
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, shade: u8) {
        for row in y..(y + h).min(self.height) {
            let start = (row * self.width + x) as usize;
            let end = (row * self.width + (x + w).min(self.width)) as usize;
            self.pixels[start..end].fill(shade);
        }
    }

    /// Draws `text` from (x, y), `scale` pixels per font pixel; returns the width drawn.
    fn text(&mut self, x: u32, y: u32, text: &str, scale: u32) -> u32 {
        let mut pen = x;
        for c in text.chars() {
            let Some(glyph) = unifont::get_glyph(c).or_else(|| unifont::get_glyph('?')) else {
                continue;
            };
            let w = glyph.get_width() as u32;
            for gy in 0..16u32 {
                for gx in 0..w {
                    if glyph.get_pixel(gx as usize, gy as usize) {
                        self.fill(pen + gx * scale, y + gy * scale, scale, scale, 0);
                    }
                }
            }
            pen += w * scale;
        }
        pen - x
    }

    fn png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

/// Width of `text` in font pixels (halfwidth 8, fullwidth 16).
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| unifont::get_glyph(c).map_or(8, |g| g.get_width() as u32))
        .sum()
}

/// Breaks `text` into lines no wider than `max` font pixels.
fn wrap(text: &str, max: u32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for c in text.chars() {
        let line = lines.last_mut().expect("never empty");
        if text_width(line) + text_width(&c.to_string()) > max {
            lines.push(c.to_string());
        } else {
            line.push(c);
        }
    }
    lines
}

/// The poster for `enterprise_name`'s invitation `url`, valid until `valid_until`.
pub fn render(
    enterprise_name: &str,
    url: &str,
    valid_until: NaiveDate,
) -> Result<Vec<u8>, PosterError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)?;
    let modules = code.width() as u32;
    // A 4-module quiet zone round the code, as scanners expect.
    let qr_px = (modules + 8) * QR_MODULE_PX;
    let title_lines = wrap(enterprise_name, (WIDTH - 2 * MARGIN) / TITLE_SCALE);
    let captions = [
        "扫码加入企业 · 深i企 防疫通".to_string(),
        format!("有效期至 {valid_until}"),
    ];
    let title_h = title_lines.len() as u32 * 16 * TITLE_SCALE + 8 * (title_lines.len() as u32 - 1);
    let caption_h = captions.len() as u32 * (16 * CAPTION_SCALE + 12);
    let height = MARGIN + title_h + 24 + qr_px + 16 + caption_h + MARGIN;
    let width = WIDTH.max(qr_px + 2 * MARGIN);
    let mut canvas = Canvas::new(width, height);

    let mut y = MARGIN;
    for line in &title_lines {
        let w = text_width(line) * TITLE_SCALE;
        canvas.text((width - w) / 2, y, line, TITLE_SCALE);
        y += 16 * TITLE_SCALE + 8;
    }
    y += 16;
    let qr_x = (width - qr_px) / 2;
    let colors = code.to_colors();
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (mx, my) = (i as u32 % modules, i as u32 / modules);
            canvas.fill(
                qr_x + (mx + 4) * QR_MODULE_PX,
                y + (my + 4) * QR_MODULE_PX,
                QR_MODULE_PX,
                QR_MODULE_PX,
                0,
            );
        }
    }
    y += qr_px + 16;
    for caption in &captions {
        let w = text_width(caption) * CAPTION_SCALE;
        canvas.text((width - w) / 2, y, caption, CAPTION_SCALE);
        y += 16 * CAPTION_SCALE + 12;
    }
    Ok(canvas.png()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poster_is_a_png_with_the_code_and_the_name() {
        let png = render(
            "深圳市示例科技有限公司（南山分公司）",
            "https://fangyitong.example.cn/#/join/abc.def",
            NaiveDate::from_ymd_opt(2022, 4, 8).unwrap(),
        )
        .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.width, WIDTH);
        let dark = pixels[..info.buffer_size()]
            .iter()
            .filter(|p| **p == 0)
            .count();
        assert!(
            dark > 10_000,
            "QR modules and text are drawn: {dark} dark pixels"
        );
        assert_eq!(wrap("一二三四五", 32), vec!["一二", "三四", "五"]);
    }
}
