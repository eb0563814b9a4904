//! Data URLs (`data:<mime>;base64,<data>`) ↔ [`IrMedia`], shared by the formats that carry media as URLs.

use super::IrMedia;

/// A data URL becomes `Base64`, anything else a `Url`.
pub fn from_url(url: &str) -> IrMedia {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(mime) = meta.strip_suffix(";base64") {
                return IrMedia::Base64 { mime: mime.to_string(), data: data.to_string() };
            }
        }
    }
    IrMedia::Url(url.to_string())
}

pub fn to_url(media: &IrMedia) -> String {
    match media {
        IrMedia::Base64 { mime, data } => format!("data:{mime};base64,{data}"),
        IrMedia::Url(u) => u.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = from_url("data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(m, IrMedia::Base64 { mime: "image/png".into(), data: "iVBORw0KGgo=".into() });
        assert_eq!(to_url(&m), "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(from_url("https://x/y.png"), IrMedia::Url("https://x/y.png".into()));
        assert_eq!(from_url("data:text/plain,hi"), IrMedia::Url("data:text/plain,hi".into()));
    }
}
