//! The invitation poster (邀请海报): the enterprise's name, a QR code of the invitation link and a
//! short caption, for printing or forwarding in a chat group.
//!
//! It is an SVG: the text is set in the phone's own CJK font, and the client draws it into the
//! PNG the agent saves or forwards (`web/src/poster.ts`), sharp at any size. So the function
//! embeds no font and no image encoder. Line breaks are computed here from each character's
//! widest likely advance ([`advance`]), so a line fits whatever font the phone sets it in.

use chrono::NaiveDate;
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;

const WIDTH: u32 = 720;
const MARGIN: u32 = 48;
const TITLE_PX: u32 = 48;
const CAPTION_PX: u32 = 32;
const QR_MODULE_PX: u32 = 12;
/// The fonts a phone has for Chinese, then any sans-serif.
const FONT: &str =
    "'PingFang SC','Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error("the link does not fit in a QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
}

/// Whether `c` is set a whole em wide (East Asian wide or full-width), as CJK fonts set it.
fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// A character's advance in tenths of the font size: a CJK or full-width character takes a whole
/// em; Latin letters and digits in a phone's bold sans-serif take at most about 0.7 em (a few
/// capitals more, offset by the narrow ones), a space about 0.3.
fn advance(c: char) -> u32 {
    if is_wide(c) {
        10
    } else if c == ' ' {
        3
    } else {
        7
    }
}

fn advance_of(text: &str) -> u32 {
    text.chars().map(advance).sum()
}

/// Where a line may break: after any wide character and at spaces, so a Latin word stays whole.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if is_wide(c) || c == ' ' {
            if start < i {
                out.push(&text[start..i]);
            }
            out.push(&text[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Breaks `text` into lines whose advance is at most `max` tenths of an em; a word longer than a
/// line is broken between its letters.
fn wrap(text: &str, max: u32) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0;
    let add = |lines: &mut Vec<String>, used: &mut u32, piece: &str| {
        let width = advance_of(piece);
        if *used + width > max && *used > 0 {
            lines.push(String::new());
            *used = 0;
            if piece == " " {
                return;
            }
        }
        lines.last_mut().expect("never empty").push_str(piece);
        *used += width;
    };
    for piece in pieces(text) {
        if advance_of(piece) > max {
            let mut buf = [0; 4];
            for c in piece.chars() {
                add(&mut lines, &mut used, c.encode_utf8(&mut buf));
            }
        } else {
            add(&mut lines, &mut used, piece);
        }
    }
    lines.iter().map(|l| l.trim_end().to_string()).collect()
}

/// `text` as XML character data or an attribute value.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The QR code's dark modules as one path, in module units.
fn modules_path(code: &QrCode) -> String {
    let width = code.width();
    let mut path = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let _ = write!(path, "M{} {}h1v1h-1z", i % width, i / width);
        }
    }
    path
}

/// The poster for `enterprise_name`'s invitation `url`, valid until `valid_until`.
pub fn render(
    enterprise_name: &str,
    url: &str,
    valid_until: NaiveDate,
) -> Result<String, PosterError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)?;
    let modules = code.width() as u32;
    // A 4-module quiet zone round the code, as scanners expect.
    let qr_px = (modules + 8) * QR_MODULE_PX;
    let width = WIDTH.max(qr_px + 2 * MARGIN);
    let title_lines = wrap(enterprise_name, 10 * (width - 2 * MARGIN) / TITLE_PX);
    let captions = [
        "扫码加入企业 · 深i企 防疫通".to_string(),
        format!("有效期至 {valid_until}"),
    ];
    let title_line_px = TITLE_PX + 8;
    let caption_line_px = CAPTION_PX + 12;
    let height = MARGIN
        + title_lines.len() as u32 * title_line_px
        + 16
        + qr_px
        + 16
        + captions.len() as u32 * caption_line_px
        + MARGIN;
    let centre = width / 2;

    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" text-anchor="middle"><rect width="100%" height="100%" fill="white"/>"#
    );
    let mut y = MARGIN;
    for line in &title_lines {
        let _ = write!(
            svg,
            r#"<text x="{centre}" y="{}" font-size="{TITLE_PX}" font-weight="bold">{}</text>"#,
            y + TITLE_PX * 7 / 8,
            escaped(line)
        );
        y += title_line_px;
    }
    y += 16;
    let _ = write!(
        svg,
        r#"<g transform="translate({} {}) scale({QR_MODULE_PX})"><path d="{}" fill="black" shape-rendering="crispEdges"/></g>"#,
        (width - qr_px) / 2 + 4 * QR_MODULE_PX,
        y + 4 * QR_MODULE_PX,
        modules_path(&code)
    );
    y += qr_px + 16;
    for caption in &captions {
        let _ = write!(
            svg,
            r#"<text x="{centre}" y="{}" font-size="{CAPTION_PX}">{}</text>"#,
            y + CAPTION_PX * 7 / 8,
            escaped(caption)
        );
        y += caption_line_px;
    }
    svg.push_str("</svg>");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poster_is_an_svg_with_the_code_and_the_name() {
        let url = "https://fangyitong.example.cn/#/join/abc.def";
        let svg = render(
            "深圳市示例科技有限公司（南山分公司）",
            url,
            NaiveDate::from_ymd_opt(2022, 4, 8).unwrap(),
        )
        .unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\""));
        assert!(svg.ends_with("</svg>"));
        // 18 wide characters at 48 px in 624 px: 13 on the first line, the rest on the second.
        assert!(svg.contains(">深圳市示例科技有限公司（南<"), "{svg}");
        assert!(svg.contains(">山分公司）<"), "{svg}");
        assert!(svg.contains(">有效期至 2022-04-08<"));
        // Every dark module of the link's code is drawn, and nothing else.
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).unwrap();
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        assert_eq!(svg.matches("h1v1h-1z").count(), dark);
    }

    #[test]
    fn names_are_escaped_and_wrapped_by_width() {
        let svg = render(
            "A&B <Trading> \"HK\" Ltd",
            "https://x.example/#/join/t",
            NaiveDate::from_ymd_opt(2022, 4, 8).unwrap(),
        )
        .unwrap();
        // 22 characters at 0.7 em are more than a line: the last word goes to the next.
        assert!(
            svg.contains(">A&amp;B &lt;Trading&gt; &quot;HK&quot;</text>"),
            "{svg}"
        );
        assert!(svg.contains(">Ltd</text>"), "{svg}");
        assert!(!svg.contains("<Trading>"));
        assert_eq!(wrap("一二三四五", 20), vec!["一二", "三四", "五"]);
        // Latin words stay whole; no line starts or ends with a space.
        let max = 10 * (WIDTH - 2 * MARGIN) / TITLE_PX;
        let lines = wrap("Shenzhen Global Trading Company Limited", max);
        assert_eq!(lines, ["Shenzhen Global", "Trading Company", "Limited"]);
        assert!(lines.iter().all(|l| advance_of(l) <= max));
        // A word longer than a line is broken between its letters.
        assert_eq!(wrap("ABCDEFGH", 30), ["ABCD", "EFGH"]);
        assert_eq!(wrap("深圳ABC公司", 40), ["深圳", "ABC公", "司"]);
    }
}
