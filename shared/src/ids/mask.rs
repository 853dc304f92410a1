/// Keeps a quarter of the characters at each end (at most 4, at least 1) and stars the middle:
/// `440308199901011237` → `4403**********1237`, `13812345678` → `13*******78`.
pub fn mask_middle(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = (chars.len() / 4).clamp(1, 4);
    if chars.len() <= keep * 2 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.extend(&chars[..keep]);
    out.extend(std::iter::repeat_n('*', chars.len() - 2 * keep));
    out.extend(&chars[chars.len() - keep..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_middle("440308199901011237"), "4403**********1237");
        assert_eq!(mask_middle("12345678"), "12****78");
        assert_eq!(mask_middle("ab"), "**");
    }
}
