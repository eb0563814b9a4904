//! `multipart/form-data` (RFC 7578), as audio uploads arrive: parsed into parts, and written again
//! with one field changed (the model). Strict where a mistake would misread the upload (a missing
//! boundary, an unterminated part, a part without a name are 400s), lenient where clients differ
//! (a preamble, an epilogue, padding after a delimiter, header case).

use crate::error::{GatewayError, Result};

/// Parts one form may have: an upload has a handful of fields.
const MAX_PARTS: usize = 100;
/// Longest header block of one part.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Set for files.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub boundary: String,
    pub parts: Vec<Part>,
}

fn malformed(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_code("invalid_multipart")
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut fields = params(content_type);
    let (media, _) = fields.next()?;
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let b = fields.find(|(k, _)| k.eq_ignore_ascii_case("boundary")).map(|(_, v)| v)?;
    let ok = (1..=MAX_BOUNDARY).contains(&b.len()) && b.bytes().all(|c| (b' '..=b'~').contains(&c));
    ok.then_some(b)
}

/// `value; key=value; key="quoted \"value\""` → (key, value) pairs, the first being (value, "").
fn params(header: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let mut rest = header;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return None;
        }
        let key_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let key = rest[..key_end].trim().to_string();
        rest = &rest[key_end..];
        let Some(after_eq) = rest.strip_prefix('=') else { return Some((key, String::new())) };
        let after_eq = after_eq.trim_start();
        let mut value = String::new();
        if let Some(quoted) = after_eq.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end..];
        } else {
            let end = after_eq.find(';').unwrap_or(after_eq.len());
            value = after_eq[..end].trim().to_string();
            rest = &after_eq[end..];
        }
        Some((key, value))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses `body`, a form delimited by `boundary`.
pub fn parse(body: &[u8], boundary: &str) -> Result<Form> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    // The first delimiter opens the body or follows a preamble's line break.
    let mut at = if body.starts_with(&delimiter) {
        0
    } else {
        find(body, &next_delimiter)
            .map(|i| i + 2)
            .ok_or_else(|| malformed("The form has no part with its boundary."))?
    };
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        let rest = &body[at.min(body.len())..];
        if rest.starts_with(b"--") {
            break;
        }
        let padding = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        if !rest[padding..].starts_with(b"\r\n") {
            return Err(malformed("The form ends without its closing boundary."));
        }
        at += padding + 2;
        let rest = &body[at..];
        let header_len = if rest.starts_with(b"\r\n") {
            0
        } else {
            find(&rest[..rest.len().min(MAX_HEADER_BYTES + 4)], b"\r\n\r\n")
                .ok_or_else(|| malformed("A part of the form has no end to its headers."))?
                + 2
        };
        let headers = String::from_utf8_lossy(&rest[..header_len]);
        let data_from = at + header_len + 2;
        let data_len = find(&body[data_from..], &next_delimiter)
            .ok_or_else(|| malformed("A part of the form is not closed by its boundary."))?;
        parts.push(part(&headers, body[data_from..data_from + data_len].to_vec())?);
        if parts.len() > MAX_PARTS {
            return Err(malformed(format!("The form has more than {MAX_PARTS} parts.")));
        }
        at = data_from + data_len + 2;
    }
    Ok(Form { boundary: boundary.to_string(), parts })
}

/// One part from its header block.
fn part(headers: &str, data: Vec<u8>) -> Result<Part> {
    let (mut name, mut filename, mut content_type) = (None, None, None);
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (key, value) =
            line.split_once(':').ok_or_else(|| malformed("A part of the form has a malformed header."))?;
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut fields = params(value);
            if !fields.next().is_some_and(|(v, _)| v.eq_ignore_ascii_case("form-data")) {
                return Err(malformed("A part of the form is not `form-data`."));
            }
            for (k, v) in fields {
                match k.to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let name = name.ok_or_else(|| malformed("A part of the form has no name."))?;
    Ok(Part { name, filename, content_type, data })
}

impl Form {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// A text field's value (not a file).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.part(name).filter(|p| p.filename.is_none()).and_then(|p| std::str::from_utf8(&p.data).ok())
    }

    /// The form written again, with the text fields in `replace` given new values. The boundary is
    /// the client's unless a new value contains it.
    pub fn encode(&self, replace: &[(&str, &str)]) -> (String, Vec<u8>) {
        let value = |p: &Part| -> Vec<u8> {
            match replace.iter().find(|(n, _)| *n == p.name && p.filename.is_none()) {
                Some((_, v)) => v.as_bytes().to_vec(),
                None => p.data.clone(),
            }
        };
        let values: Vec<Vec<u8>> = self.parts.iter().map(value).collect();
        let mut boundary = self.boundary.clone();
        while values.iter().any(|v| find(v, format!("\r\n--{boundary}").as_bytes()).is_some()) {
            boundary.push('x');
        }
        let quoted = |s: &str| s.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A");
        let mut out = Vec::with_capacity(values.iter().map(|v| v.len() + 200).sum());
        for (p, v) in self.parts.iter().zip(values) {
            out.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quoted(&p.name)).as_bytes(),
            );
            if let Some(f) = &p.filename {
                out.extend_from_slice(format!("; filename=\"{}\"", quoted(f)).as_bytes());
            }
            if let Some(t) = &p.content_type {
                out.extend_from_slice(format!("\r\nContent-Type: {}", t.replace(['\r', '\n'], " ")).as_bytes());
            }
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(&v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (boundary, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UPLOAD: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n--XyZ  \r\ncontent-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--Xy\x00\xff\r\n--XyZ--\r\nepilogue";

    #[test]
    fn reads_boundaries_from_content_types() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\"").as_deref(), Some("a b;c"));
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary(&format!("multipart/form-data; boundary={}", "b".repeat(71))), None);
    }

    #[test]
    fn parses_fields_and_files_with_preamble_padding_and_epilogue() {
        let form = parse(UPLOAD, "XyZ").unwrap();
        assert_eq!(form.text("model"), Some("openai/whisper-1"));
        let file = form.part("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("a \"b\".wav"));
        assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
        assert_eq!(file.data, b"RIFF\r\n--Xy\x00\xff");
        assert_eq!(form.text("file"), None, "a file is not a text field");
    }

    #[test]
    fn malformed_forms_are_400s() {
        for (body, boundary) in [
            (&b"no delimiter at all"[..], "XyZ"),
            (b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "XyZ"),
            (b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", "XyZ"),
            (b"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--", "XyZ"),
            (b"--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--", "XyZ"),
            (b"--XyZgarbage", "XyZ"),
            (b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "XyZ"),
        ] {
            let e = parse(body, boundary).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_deref()),
                (400, Some("invalid_multipart")),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn writes_the_form_again_with_a_field_replaced() {
        let form = parse(UPLOAD, "XyZ").unwrap();
        let (b, bytes) = form.encode(&[("model", "whisper-1"), ("file", "not a text field")]);
        let again = parse(&bytes, &b).unwrap();
        assert_eq!(again.text("model"), Some("whisper-1"));
        let (file, sent) = (form.part("file").unwrap(), again.part("file").unwrap());
        assert_eq!((&sent.data, &sent.content_type), (&file.data, &file.content_type));
        // Quotes in names are written as browsers write them.
        assert_eq!(sent.filename.as_deref(), Some("a %22b%22.wav"));
        // A new value holding the boundary gets the form a longer one.
        let (b, bytes) = form.encode(&[("model", "x\r\n--XyZ")]);
        assert_eq!(b, "XyZx");
        assert_eq!(parse(&bytes, &b).unwrap().text("model"), Some("x\r\n--XyZ"));
    }

    fn part_strategy() -> impl Strategy<Value = Part> {
        (
            "[a-z_\\[\\]]{1,12}",
            proptest::option::of("[a-zA-Z0-9 ._-]{1,12}"),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(name, filename, data)| {
                let content_type = filename.as_ref().map(|_| "application/octet-stream".to_string());
                Part { name, filename, content_type, data }
            })
    }

    proptest! {
        /// Whatever the parts hold, a written form parses back to the same parts.
        #[test]
        fn written_forms_parse_back(parts in proptest::collection::vec(part_strategy(), 1..6), boundary in "[A-Za-z0-9'()+_,./:=?-]{1,40}") {
            let form = Form { boundary, parts };
            let (b, bytes) = form.encode(&[]);
            let back = parse(&bytes, &b).unwrap();
            prop_assert_eq!(back.parts, form.parts);
        }

        /// Arbitrary bytes never panic the parser, and cut forms never parse.
        #[test]
        fn any_bytes_parse_or_are_refused(body in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..400) {
            let _ = parse(&body, "XyZ");
            let cut = cut.min(UPLOAD.len() - b"--XyZ--\r\nepilogue".len());
            prop_assert!(parse(&UPLOAD[..cut], "XyZ").is_err());
        }
    }
}
