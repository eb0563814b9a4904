//! Gemini puts the model and the method in the path: `/v1beta/models/{model}:{method}`. Model ids
//! may themselves contain `/` (`openai/gpt-4o` arrives as `models/openai/gpt-4o:generateContent`),
//! so the split is at the last `:`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiTarget {
    pub model: String,
    pub stream: bool,
}

/// Parses what follows `/models/`; `None` for anything but `generateContent`/`streamGenerateContent`.
pub fn gemini_target(rest: &str) -> Option<GeminiTarget> {
    let (model, method) = rest.rsplit_once(':')?;
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.is_empty() {
        return None;
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    Some(GeminiTarget { model: percent_decode(model), stream })
}

/// `%2F` and friends, as some clients escape the model segment.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_model_and_method() {
        assert_eq!(
            gemini_target("gemini-2.5-flash:streamGenerateContent"),
            Some(GeminiTarget { model: "gemini-2.5-flash".into(), stream: true })
        );
        assert_eq!(
            gemini_target("openai/gpt-4o:generateContent"),
            Some(GeminiTarget { model: "openai/gpt-4o".into(), stream: false })
        );
        assert_eq!(gemini_target("openai%2Fgpt-4o:generateContent").map(|t| t.model), Some("openai/gpt-4o".into()));
        assert_eq!(gemini_target("gemini-2.5-flash:countTokens"), None);
        assert_eq!(gemini_target("gemini-2.5-flash"), None);
        assert_eq!(gemini_target(":generateContent"), None);
        assert_eq!(gemini_target("%"), None);
        assert_eq!(gemini_target("a%2:generateContent").map(|t| t.model), Some("a%2".into()));
        assert_eq!(gemini_target("é%é:generateContent").map(|t| t.model), Some("é%é".into()));
    }
}
