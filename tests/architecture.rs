//! The core/platform boundary: only `src/platform/` may name the Workers or JS crates. (The wasm32-only
//! dependency already stops the core compiling against them natively; this names the offending files.)

#![allow(clippy::unwrap_used)] // a test: a failure to read the tree should fail loudly

use std::fs;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_platform_names_worker_or_js_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let platform = src.join("platform");
    let forbidden = ["worker::", "use worker", "web_sys", "js_sys", "wasm_bindgen", "getrandom"];
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&platform))
        .filter_map(|f| {
            // Code only: comments may talk about the platform.
            let text: String = fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let hits: Vec<_> = forbidden.iter().filter(|w| text.contains(*w)).collect();
            (!hits.is_empty()).then(|| format!("{} uses {hits:?}", f.display()))
        })
        .collect();
    assert!(offenders.is_empty(), "core files touching the platform:\n{}", offenders.join("\n"));
}
