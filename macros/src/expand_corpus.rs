//! A refactoring guard: expands every `#[workflow]` item in the repository's sources (tests,
//! trybuild cases, examples, benches, docs) and writes each expansion, token for token with the
//! line and column of every token, to a directory. Run it before and after a change to the
//! macro that must not change the generated code, and compare the two directories:
//!
//! ```text
//! CAIRN_EXPAND_CORPUS=/tmp/before cargo test -p cairn-macros expand_corpus
//! # ... change the macro ...
//! CAIRN_EXPAND_CORPUS=/tmp/after cargo test -p cairn-macros expand_corpus
//! diff -r /tmp/before /tmp/after
//! ```
//!
//! Without the variable the test does nothing: the corpus changes with every new test, so it
//! is not a snapshot to keep (the committed snapshots are in `expand_tests`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

/// The folders, relative to the workspace root, whose `.rs` files are searched.
const ROOTS: &[&str] = &[
    "tests",
    "ui-tests",
    "examples",
    "benches",
    "src",
    "runtime/src",
    "runtime/tests",
    "macros/tests",
];

#[test]
fn expand_corpus() {
    let Some(out) = std::env::var_os("CAIRN_EXPAND_CORPUS") else {
        return;
    };
    let out = PathBuf::from(out);
    fs::create_dir_all(&out).unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for root in ROOTS {
        collect_rs_files(&workspace.join(root), &mut files);
    }
    files.sort();
    let mut count = 0;
    for file in files {
        let Ok(source) = fs::read_to_string(&file) else {
            continue;
        };
        let Ok(parsed) = syn::parse_file(&source) else {
            continue;
        };
        let mut finder = Workflows::default();
        finder.visit_file(&parsed);
        if finder.found.is_empty() {
            continue;
        }
        let mut text = String::new();
        for (args, item) in finder.found {
            let expanded = crate::expand_workflow(args, item);
            writeln!(text, "=== expansion {count}").unwrap();
            writeln!(text, "{expanded}").unwrap();
            writeln!(text, "--- spans").unwrap();
            write_spans(&expanded, &mut text);
            count += 1;
        }
        let name = file
            .strip_prefix(workspace)
            .unwrap()
            .to_string_lossy()
            .replace('/', "__");
        fs::write(out.join(format!("{name}.txt")), text).unwrap();
    }
    assert!(count > 0, "no workflow found under {}", workspace.display());
    eprintln!("expanded {count} workflows into {}", out.display());
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with(".expanded.rs")
        {
            out.push(path);
        }
    }
}

/// Every token's start, `line:column`, so that a change of span shows up too.
fn write_spans(tokens: &TokenStream, out: &mut String) {
    for token in tokens.clone() {
        let start = token.span().start();
        write!(out, "{}:{} ", start.line, start.column).unwrap();
        if let TokenTree::Group(group) = token {
            write_spans(&group.stream(), out);
            out.push_str("| ");
        }
    }
    out.push('\n');
}

/// The items carrying `#[workflow]` (or `#[cairn::workflow]`), anywhere in a file, with the
/// attribute's arguments and the item without the attribute: what the compiler hands the macro.
#[derive(Default)]
struct Workflows {
    found: Vec<(TokenStream, TokenStream)>,
}

impl Workflows {
    fn take(&mut self, attrs: &[syn::Attribute], item: &dyn Fn(usize) -> TokenStream) {
        let Some(index) = attrs.iter().position(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "workflow")
        }) else {
            return;
        };
        let args = match &attrs[index].meta {
            syn::Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        self.found.push((args, item(index)));
    }
}

impl<'ast> Visit<'ast> for Workflows {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            _ => &[],
        };
        self.take(attrs, &|index| {
            let mut item = item.clone();
            strip_attr(&mut item, index);
            item.into_token_stream()
        });
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, method: &'ast syn::ImplItemFn) {
        self.take(&method.attrs, &|index| {
            let mut method = method.clone();
            method.attrs.remove(index);
            method.into_token_stream()
        });
        syn::visit::visit_impl_item_fn(self, method);
    }
}

fn strip_attr(item: &mut syn::Item, index: usize) {
    let attrs = match item {
        syn::Item::Fn(f) => &mut f.attrs,
        syn::Item::Struct(s) => &mut s.attrs,
        syn::Item::Enum(e) => &mut e.attrs,
        syn::Item::Const(c) => &mut c.attrs,
        syn::Item::Static(s) => &mut s.attrs,
        syn::Item::Mod(m) => &mut m.attrs,
        syn::Item::Impl(i) => &mut i.attrs,
        syn::Item::Trait(t) => &mut t.attrs,
        syn::Item::Type(t) => &mut t.attrs,
        _ => return,
    };
    attrs.remove(index);
}
