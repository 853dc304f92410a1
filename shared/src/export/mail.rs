//! The export mail as a MIME message (SES v2 `Raw` content): a plain-text body and, when small
//! enough, the files attached. Built by hand because it is small and fully under our control:
//! every header value is ASCII or RFC 2047-encoded, and addresses are validated [`Email`]s, so
//! nothing a user typed can add a header.

use crate::ids::Email;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

pub struct Attachment {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

pub struct Mail<'a> {
    pub from: &'a str,
    pub to: &'a Email,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub date: DateTime<Utc>,
}

/// RFC 2047 encoded-word for a UTF-8 header value.
fn encoded_word(value: &str) -> String {
    format!("=?UTF-8?B?{}?=", STANDARD.encode(value.as_bytes()))
}

/// Base64 in lines of 76 characters, as MIME requires.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// The whole message, CRLF line endings.
pub fn compose(mail: &Mail<'_>) -> Vec<u8> {
    let boundary = format!("fyt-{}", ulid::Ulid::new());
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", mail.from));
    out.push_str(&format!("To: {}\r\n", mail.to.as_str()));
    out.push_str(&format!("Subject: {}\r\n", encoded_word(&mail.subject)));
    out.push_str(&format!("Date: {}\r\n", mail.date.to_rfc2822()));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    ));
    out.push_str(&format!("--{boundary}\r\n"));
    out.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    out.push_str(&base64_lines(mail.body.as_bytes()));
    for a in &mail.attachments {
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!(
            "Content-Type: {}; name=\"{}\"\r\n",
            a.content_type, a.name
        ));
        out.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\r\n",
            a.name
        ));
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        out.push_str(&base64_lines(&a.bytes));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_has_its_parts_and_no_raw_utf8_headers() {
        let to = Email::parse("hr@example.cn").unwrap();
        let raw = compose(&Mail {
            from: "noreply@fangyitong.example.cn",
            to: &to,
            subject: "核酸检测名单".into(),
            body: "仅供疫情防控参考".into(),
            attachments: vec![Attachment {
                name: "nucleic-24h.csv".into(),
                content_type: "text/csv; charset=UTF-8",
                bytes: vec![b'a'; 200],
            }],
            date: DateTime::from_timestamp(1_648_778_400, 0).unwrap(),
        });
        let text = String::from_utf8(raw).unwrap();
        assert!(text.is_ascii());
        assert!(text.contains("Subject: =?UTF-8?B?"));
        assert!(text.contains("filename=\"nucleic-24h.csv\""));
        assert!(text.lines().all(|l| l.len() <= 998));
    }
}
