//! A token estimate for requests (`/v1/messages/count_tokens`): about four characters of text per
//! token, plus a fixed cost per image and per message. Upstreams count exactly; this is for clients
//! (Claude Code) deciding when to compact context, where being close and fast beats being exact.

use super::{IrPart, IrRequest};

const CHARS_PER_TOKEN: usize = 4;
const IMAGE_TOKENS: u64 = 1_000;
const MESSAGE_OVERHEAD: u64 = 4;

pub fn input_tokens(req: &IrRequest) -> u64 {
    let mut chars: usize = req.system.iter().map(String::len).sum();
    let mut fixed = 0u64;
    for m in &req.messages {
        fixed += MESSAGE_OVERHEAD;
        for p in &m.parts {
            match p {
                IrPart::Text(t) | IrPart::Thinking { text: t, .. } | IrPart::RedactedThinking(t) => chars += t.len(),
                IrPart::ToolCall { name, arguments, .. } => chars += name.len() + arguments.len(),
                IrPart::ToolResult { content, .. } => {
                    for c in content {
                        match c {
                            IrPart::Text(t) => chars += t.len(),
                            _ => fixed += IMAGE_TOKENS,
                        }
                    }
                }
                IrPart::Image(_) | IrPart::File { .. } => fixed += IMAGE_TOKENS,
            }
        }
    }
    for t in &req.tools {
        chars += t.name.len() + t.description.as_ref().map_or(0, String::len) + t.parameters.to_string().len();
    }
    (chars.div_ceil(CHARS_PER_TOKEN) as u64 + fixed).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{IrMessage, IrRole};

    #[test]
    fn grows_with_content() {
        let small = IrRequest {
            messages: vec![IrMessage { role: IrRole::User, parts: vec![IrPart::Text("hi".into())] }],
            ..Default::default()
        };
        let mut big = small.clone();
        big.system.push("x".repeat(4000));
        assert!(input_tokens(&big) >= input_tokens(&small) + 1000);
        assert!(input_tokens(&IrRequest::default()) >= 1);
    }
}
