//! Repairs applied to every translated request, because strict upstreams reject what lenient
//! clients send:
//! - a tool result whose call is not in the conversation (orphan) is dropped;
//! - a tool call without a result gets a placeholder result in the next user turn (Anthropic and
//!   OpenAI both refuse a call left unanswered);
//! - empty tool-call ids get generated ones.
//!
//! And one quirk some models need: no system role (GLM before 5.1, ERNIE) → the system prompt is
//! folded into the first user message.

use super::{IrMessage, IrPart, IrRequest, IrRole};
use std::collections::HashSet;

pub const MISSING_RESULT: &str = "(no result was returned for this tool call)";

pub fn tool_pairs(req: &mut IrRequest) {
    let mut counter = 0;
    for m in &mut req.messages {
        for p in &mut m.parts {
            if let IrPart::ToolCall { id, .. } = p {
                if id.is_empty() {
                    *id = format!("call_gw{counter}");
                    counter += 1;
                }
            }
        }
    }
    let calls: HashSet<String> = req
        .messages
        .iter()
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| if let IrPart::ToolCall { id, .. } = p { Some(id.clone()) } else { None })
        .collect();
    for m in &mut req.messages {
        m.parts.retain(|p| !matches!(p, IrPart::ToolResult { call_id, .. } if !calls.contains(call_id)));
    }
    req.messages.retain(|m| !m.parts.is_empty());

    let mut i = 0;
    while i < req.messages.len() {
        if req.messages[i].role == IrRole::Assistant {
            let pending: Vec<(String, String)> = req.messages[i]
                .parts
                .iter()
                .filter_map(|p| {
                    if let IrPart::ToolCall { id, name, .. } = p {
                        Some((id.clone(), name.clone()))
                    } else {
                        None
                    }
                })
                .collect();
            if !pending.is_empty() {
                let answered: HashSet<String> = match req.messages.get(i + 1) {
                    Some(next) if next.role == IrRole::User => next
                        .parts
                        .iter()
                        .filter_map(|p| {
                            if let IrPart::ToolResult { call_id, .. } = p {
                                Some(call_id.clone())
                            } else {
                                None
                            }
                        })
                        .collect(),
                    _ => HashSet::new(),
                };
                let missing: Vec<IrPart> = pending
                    .into_iter()
                    .filter(|(id, _)| !answered.contains(id))
                    .map(|(id, name)| IrPart::ToolResult {
                        call_id: id,
                        name: Some(name),
                        content: vec![IrPart::Text(MISSING_RESULT.into())],
                        is_error: true,
                    })
                    .collect();
                if !missing.is_empty() {
                    match req.messages.get_mut(i + 1) {
                        Some(next) if next.role == IrRole::User => {
                            let at = next.parts.iter().take_while(|p| matches!(p, IrPart::ToolResult { .. })).count();
                            next.parts.splice(at..at, missing);
                        }
                        _ => req.messages.insert(i + 1, IrMessage { role: IrRole::User, parts: missing }),
                    }
                }
            }
        }
        i += 1;
    }
}

/// Whether a model has no system role (its system prompt must be folded into the first user turn).
pub fn lacks_system_role(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    let glm_before_5_1 = m.strip_prefix("glm-").is_some_and(|v| {
        let mut it = v.split(|c: char| !c.is_ascii_digit());
        let major: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let minor: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (major, minor) < (5, 1)
    });
    glm_before_5_1 || m.starts_with("ernie-")
}

pub fn fold_system_into_first_user(req: &mut IrRequest) {
    if req.system.is_empty() {
        return;
    }
    let text = std::mem::take(&mut req.system).join("\n\n");
    match req.messages.iter_mut().find(|m| m.role == IrRole::User) {
        Some(m) => m.parts.insert(0, IrPart::Text(format!("{text}\n\n"))),
        None => req.messages.insert(0, IrMessage { role: IrRole::User, parts: vec![IrPart::Text(text)] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> IrPart {
        IrPart::ToolCall { id: id.into(), name: "f".into(), arguments: "{}".into() }
    }
    fn result(id: &str) -> IrPart {
        IrPart::ToolResult { call_id: id.into(), name: None, content: vec![IrPart::Text("ok".into())], is_error: false }
    }
    fn msg(role: IrRole, parts: Vec<IrPart>) -> IrMessage {
        IrMessage { role, parts }
    }

    #[test]
    fn drops_orphans_and_fills_missing_results() {
        let mut r = IrRequest {
            messages: vec![
                msg(IrRole::User, vec![result("ghost"), IrPart::Text("hi".into())]),
                msg(IrRole::Assistant, vec![call("a"), call("b")]),
                msg(IrRole::User, vec![result("a"), IrPart::Text("and?".into())]),
                msg(IrRole::Assistant, vec![call("")]),
            ],
            ..Default::default()
        };
        tool_pairs(&mut r);
        assert_eq!(r.messages[0].parts, vec![IrPart::Text("hi".into())]);
        let ids: Vec<_> = r.messages[2]
            .parts
            .iter()
            .filter_map(|p| if let IrPart::ToolResult { call_id, .. } = p { Some(call_id.as_str()) } else { None })
            .collect();
        assert_eq!(ids, ["a", "b"], "the missing result follows the existing ones, before the text");
        assert!(matches!(&r.messages[3].parts[0], IrPart::ToolCall { id, .. } if id == "call_gw0"));
        assert!(
            matches!(&r.messages[4].parts[0], IrPart::ToolResult { call_id, is_error: true, .. } if call_id == "call_gw0")
        );
    }

    #[test]
    fn folds_system_for_models_without_a_system_role() {
        assert!(lacks_system_role("glm-4.6"));
        assert!(lacks_system_role("zai/glm-5"));
        assert!(!lacks_system_role("glm-5.1"));
        assert!(lacks_system_role("ERNIE-4.0"));
        assert!(!lacks_system_role("gpt-4o"));
        let mut r = IrRequest {
            system: vec!["be brief".into()],
            messages: vec![msg(IrRole::User, vec![IrPart::Text("hi".into())])],
            ..Default::default()
        };
        fold_system_into_first_user(&mut r);
        assert!(r.system.is_empty());
        assert_eq!(r.messages[0].parts[0], IrPart::Text("be brief\n\n".into()));
    }
}
