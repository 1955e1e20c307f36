//! Expansion snapshots: each `tests/expand/NAME.rs` holds one `#[workflow]` fn; its expansion,
//! pretty-printed, must equal `tests/expand/NAME.expanded.rs`, so every change to the generated
//! code shows up in review. Run with `CAIRN_BLESS=1` to write the snapshots anew.

use std::fs;
use std::path::Path;

use quote::ToTokens;

fn expand_file(source: &str) -> String {
    let file: syn::File = syn::parse_str(source).expect("snapshot source parses");
    let mut out = Vec::new();
    for item in file.items {
        let syn::Item::Fn(mut function) = item else {
            continue;
        };
        let Some(index) = function
            .attrs
            .iter()
            .position(|a| a.path().is_ident("workflow"))
        else {
            continue;
        };
        let attr = function.attrs.remove(index);
        let args = match attr.meta {
            syn::Meta::List(list) => list.tokens,
            _ => Default::default(),
        };
        let tokens = crate::expand_workflow(args, function.into_token_stream());
        let file: syn::File = syn::parse2(tokens).expect("expansion parses as items");
        out.push(prettyplease::unparse(&file));
    }
    out.join("\n")
}

#[test]
fn expansions_match_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let bless = std::env::var_os("CAIRN_BLESS").is_some();
    let mut failures = Vec::new();
    let mut sources: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !p.to_string_lossy().ends_with(".expanded.rs"))
        .collect();
    sources.sort();
    assert!(
        !sources.is_empty(),
        "no snapshot sources in {}",
        dir.display()
    );
    for source in sources {
        let expanded = expand_file(&fs::read_to_string(&source).unwrap());
        let snapshot = source.with_extension("expanded.rs");
        if bless || !snapshot.exists() {
            fs::write(&snapshot, &expanded).unwrap();
            continue;
        }
        if fs::read_to_string(&snapshot).unwrap() != expanded {
            failures.push(format!(
                "{} changed; review it with `CAIRN_BLESS=1 cargo test -p cairn-macros` and `git diff`\n--- new expansion ---\n{expanded}",
                snapshot.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
