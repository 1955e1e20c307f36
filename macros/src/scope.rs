//! Name resolution for the lowering: which workflow variable each identifier refers to.
//!
//! The lowering keeps a [`Scopes`] stack of the variables declared so far. For a piece of
//! await-free user code (one statement, a condition, a scrutinee) [`analyze`] finds the outer
//! variables it reads and assigns, resolving each name through the scopes the code opens
//! itself (blocks, closures, patterns), and replaces every `break`/`continue` that leaves the
//! code for a loop outside it with a placeholder `__cairn_jump!(N)`: the lowering turns those
//! into state transitions once it knows what the target state holds.
//!
//! Macro invocations are opaque to syn, so their tokens are read conservatively: an identifier
//! that names a visible variable (not after a `.`), or a `{name}` inside a string literal, counts
//! as a read. Reading too much only keeps a variable in a state a little longer.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Pat};

pub use crate::ids::VarId;
use crate::ids::{Id, JumpId};

/// The variables visible at a point of the body, innermost last.
#[derive(Clone, Default)]
pub struct Scopes {
    frames: Vec<Vec<(String, VarId)>>,
}

impl Scopes {
    pub fn push(&mut self) {
        self.frames.push(Vec::new());
    }

    pub fn pop(&mut self) {
        self.frames.pop();
    }

    pub fn declare(&mut self, name: String, id: VarId) {
        if self.frames.is_empty() {
            self.push();
        }
        self.frames.last_mut().unwrap().push((name, id));
    }

    pub fn lookup(&self, name: &str) -> Option<VarId> {
        self.frames
            .iter()
            .rev()
            .flat_map(|frame| frame.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// Every variable that is not shadowed here.
    pub fn visible(&self) -> Vec<VarId> {
        let mut seen = Vec::new();
        let mut ids = Vec::new();
        for (name, id) in self.frames.iter().rev().flat_map(|f| f.iter().rev()) {
            if !seen.contains(name) {
                seen.push(name.clone());
                ids.push(*id);
            }
        }
        ids
    }
}

/// A `break` or `continue` that leaves the analyzed code.
pub struct Jump {
    pub is_break: bool,
    pub label: Option<syn::Lifetime>,
    pub value: Option<Expr>,
    /// Names declared inside the analyzed code around the jump: they hide outer variables there.
    pub inner_names: Vec<String>,
    pub span: proc_macro2::Span,
}

/// What a piece of user code does with the outer variables.
#[derive(Default)]
pub struct Usage {
    pub reads: BTreeSet<VarId>,
    /// Variables assigned with `=` anywhere inside.
    pub assigns: BTreeSet<VarId>,
    /// Jumps out of the code, in the order of their placeholders.
    pub jumps: Vec<Jump>,
}

/// Name of the placeholder macro that stands for a jump until expansion.
pub const JUMP_PLACEHOLDER: &str = "__cairn_jump";

/// Analyzes an expression; escaping jumps are numbered from `first_jump`.
pub fn analyze_expr(expr: &mut Expr, scopes: &Scopes, first_jump: JumpId) -> Usage {
    let mut analyzer = Analyzer::new(scopes, first_jump);
    analyzer.visit_expr_mut(expr);
    analyzer.usage
}

/// Analyzes a statement; escaping jumps are numbered from `first_jump`.
pub fn analyze_stmt(stmt: &mut syn::Stmt, scopes: &Scopes, first_jump: JumpId) -> Usage {
    let mut analyzer = Analyzer::new(scopes, first_jump);
    analyzer.visit_stmt_mut(stmt);
    analyzer.usage
}

/// The names a pattern binds, in order, with whether each is `mut`.
pub fn pattern_bindings(pat: &Pat) -> Vec<(syn::Ident, bool)> {
    let mut out = Vec::new();
    collect_bindings(pat, &mut out);
    out
}

fn collect_bindings(pat: &Pat, out: &mut Vec<(syn::Ident, bool)>) {
    match pat {
        Pat::Ident(ident) => {
            // An upper-case name without `mut`, `ref` or `@` is a unit struct, variant or const.
            let name = ident.ident.to_string();
            let is_binding = ident.mutability.is_some()
                || ident.by_ref.is_some()
                || ident.subpat.is_some()
                || !name.starts_with(|c: char| c.is_uppercase());
            if is_binding {
                out.push((ident.ident.clone(), ident.mutability.is_some()));
            }
            if let Some((_, sub)) = &ident.subpat {
                collect_bindings(sub, out);
            }
        }
        Pat::Or(or) => {
            if let Some(first) = or.cases.first() {
                collect_bindings(first, out);
            }
        }
        Pat::Paren(paren) => collect_bindings(&paren.pat, out),
        Pat::Reference(reference) => collect_bindings(&reference.pat, out),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::Struct(strukt) => strukt
            .fields
            .iter()
            .for_each(|f| collect_bindings(&f.pat, out)),
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::Type(typed) => collect_bindings(&typed.pat, out),
        _ => {}
    }
}

struct Analyzer<'a> {
    outer: &'a Scopes,
    /// Names declared inside the analyzed code.
    inner: Vec<Vec<String>>,
    /// Loops (`true`) and labeled blocks inside the analyzed code, with their labels: a jump
    /// to one of them stays inside.
    targets: Vec<(bool, Option<String>)>,
    /// Depth of closures and async blocks: no jump leaves them.
    barriers: usize,
    next_jump: JumpId,
    usage: Usage,
}

impl<'a> Analyzer<'a> {
    fn new(outer: &'a Scopes, first_jump: JumpId) -> Self {
        Analyzer {
            outer,
            inner: vec![Vec::new()],
            targets: Vec::new(),
            barriers: 0,
            next_jump: first_jump,
            usage: Usage::default(),
        }
    }

    fn resolve(&self, name: &str) -> Option<VarId> {
        if self
            .inner
            .iter()
            .any(|frame| frame.iter().any(|n| n == name))
        {
            return None;
        }
        self.outer.lookup(name)
    }

    fn read(&mut self, name: &str) {
        if let Some(id) = self.resolve(name) {
            self.usage.reads.insert(id);
        }
    }

    fn bind(&mut self, pat: &Pat) {
        for (ident, _) in pattern_bindings(pat) {
            self.inner.last_mut().unwrap().push(ident.to_string());
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.inner.push(Vec::new());
        f(self);
        self.inner.pop();
    }

    fn read_macro_tokens(&mut self, tokens: &TokenStream) {
        let mut previous_dot = false;
        for token in tokens.clone() {
            match &token {
                TokenTree::Ident(ident) if !previous_dot => self.read(&ident.to_string()),
                TokenTree::Group(group) => self.read_macro_tokens(&group.stream()),
                TokenTree::Literal(literal) => {
                    for name in format_arguments(&literal.to_string()) {
                        self.read(&name);
                    }
                }
                _ => {}
            }
            previous_dot = matches!(&token, TokenTree::Punct(p) if p.as_char() == '.');
        }
    }

    /// Whether a jump with this label (or none) leaves the analyzed code.
    fn escapes(&self, label: Option<&syn::Lifetime>) -> bool {
        if self.barriers > 0 {
            return false;
        }
        match label {
            None => !self.targets.iter().any(|(is_loop, _)| *is_loop),
            Some(label) => {
                let name = label.ident.to_string();
                !self
                    .targets
                    .iter()
                    .any(|(_, t)| t.as_deref() == Some(&*name))
            }
        }
    }

    fn in_target(&mut self, is_loop: bool, label: Option<&syn::Label>, f: impl FnOnce(&mut Self)) {
        self.targets
            .push((is_loop, label.map(|l| l.name.ident.to_string())));
        f(self);
        self.targets.pop();
    }
}

impl VisitMut for Analyzer<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
                if path.path.leading_colon.is_none() {
                    let name = path.path.segments[0].ident.to_string();
                    self.read(&name);
                }
            }
            Expr::Assign(assign) => {
                if let Expr::Path(path) = &*assign.left
                    && let Some(ident) = path.path.get_ident()
                {
                    if let Some(id) = self.resolve(&ident.to_string()) {
                        self.usage.assigns.insert(id);
                    }
                } else {
                    self.visit_expr_mut(&mut assign.left);
                }
                self.visit_expr_mut(&mut assign.right);
            }
            Expr::Closure(closure) => {
                self.barriers += 1;
                self.scoped(|this| {
                    for input in &closure.inputs {
                        this.bind(input);
                    }
                    this.visit_expr_mut(&mut closure.body);
                });
                self.barriers -= 1;
            }
            Expr::Async(async_) => {
                self.barriers += 1;
                self.visit_block_mut(&mut async_.block);
                self.barriers -= 1;
            }
            Expr::ForLoop(for_) => {
                self.visit_expr_mut(&mut for_.expr);
                let label = for_.label.clone();
                self.scoped(|this| {
                    this.bind(&for_.pat);
                    this.in_target(true, label.as_ref(), |this| {
                        this.visit_block_mut(&mut for_.body)
                    });
                });
            }
            Expr::While(while_) => {
                let label = while_.label.clone();
                self.scoped(|this| {
                    this.visit_expr_mut(&mut while_.cond);
                    this.in_target(true, label.as_ref(), |this| {
                        this.visit_block_mut(&mut while_.body)
                    });
                });
            }
            Expr::Loop(loop_) => {
                let label = loop_.label.clone();
                self.in_target(true, label.as_ref(), |this| {
                    this.visit_block_mut(&mut loop_.body)
                });
            }
            Expr::Block(block) if block.label.is_some() => {
                // A labeled block is a target for `break 'label` only.
                let label = block.label.clone();
                self.in_target(false, label.as_ref(), |this| {
                    this.visit_block_mut(&mut block.block)
                });
            }
            Expr::If(if_) => {
                self.scoped(|this| {
                    this.visit_expr_mut(&mut if_.cond);
                    this.visit_block_mut(&mut if_.then_branch);
                });
                if let Some((_, else_branch)) = &mut if_.else_branch {
                    self.visit_expr_mut(else_branch);
                }
            }
            Expr::Let(let_) => {
                self.visit_expr_mut(&mut let_.expr);
                self.bind(&let_.pat);
            }
            Expr::Match(match_) => {
                self.visit_expr_mut(&mut match_.expr);
                for arm in &mut match_.arms {
                    self.scoped(|this| {
                        this.bind(&arm.pat);
                        if let Some((_, guard)) = &mut arm.guard {
                            this.visit_expr_mut(guard);
                        }
                        this.visit_expr_mut(&mut arm.body);
                    });
                }
            }
            Expr::Macro(mac) => self.read_macro_tokens(&mac.mac.tokens),
            Expr::Break(break_) => {
                if let Some(value) = &mut break_.expr {
                    self.visit_expr_mut(value);
                }
                if self.escapes(break_.label.as_ref()) {
                    let jump = Jump {
                        is_break: true,
                        label: break_.label.clone(),
                        value: break_.expr.as_deref().cloned(),
                        inner_names: self.inner.iter().flatten().cloned().collect(),
                        span: syn::spanned::Spanned::span(&*break_),
                    };
                    self.replace_with_placeholder(expr, jump);
                }
            }
            Expr::Continue(continue_) => {
                if self.escapes(continue_.label.as_ref()) {
                    let jump = Jump {
                        is_break: false,
                        label: continue_.label.clone(),
                        value: None,
                        inner_names: self.inner.iter().flatten().cloned().collect(),
                        span: syn::spanned::Spanned::span(&*continue_),
                    };
                    self.replace_with_placeholder(expr, jump);
                }
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        self.scoped(|this| visit_mut::visit_block_mut(this, block));
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some(init) = &mut local.init {
            self.visit_expr_mut(&mut init.expr);
            if let Some((_, diverge)) = &mut init.diverge {
                self.visit_expr_mut(diverge);
            }
        }
        self.bind(&local.pat);
    }

    fn visit_stmt_macro_mut(&mut self, mac: &mut syn::StmtMacro) {
        self.read_macro_tokens(&mac.mac.tokens);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_pat_mut(&mut self, _: &mut Pat) {}
    fn visit_type_mut(&mut self, _: &mut syn::Type) {}
}

impl Analyzer<'_> {
    fn replace_with_placeholder(&mut self, expr: &mut Expr, jump: Jump) {
        let id = self.next_jump;
        self.next_jump = JumpId::new(id.index() + 1);
        let span = jump.span;
        let macro_name = syn::Ident::new(JUMP_PLACEHOLDER, span);
        let id = proc_macro2::Literal::usize_unsuffixed(id.index());
        *expr = syn::parse_quote_spanned!(span=> #macro_name!(#id));
        self.usage.jumps.push(jump);
    }
}

/// The names in `{name}` / `{name:?}` arguments of a format string literal.
fn format_arguments(literal: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = literal;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if rest.starts_with('{') {
            rest = &rest[1..];
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
            names.push(name.to_owned());
        }
        rest = &rest[end..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_strings_name_their_arguments() {
        assert_eq!(format_arguments("\"{a} {b:?} {{c}} {0}\""), ["a", "b"]);
    }

    #[test]
    fn inner_bindings_hide_outer_variables() {
        let mut scopes = Scopes::default();
        scopes.declare("x".into(), VarId::new(0));
        scopes.declare("y".into(), VarId::new(1));
        let mut stmt: syn::Stmt = syn::parse_quote! {
            let z = { let x = 5; x + y };
        };
        let usage = analyze_stmt(&mut stmt, &scopes, JumpId::new(0));
        assert_eq!(usage.reads.into_iter().collect::<Vec<_>>(), [VarId::new(1)]);
    }

    #[test]
    fn jumps_out_of_the_code_become_placeholders() {
        let scopes = Scopes::default();
        let mut stmt: syn::Stmt = syn::parse_quote! {
            if done { for i in 0..3 { if i == 1 { break; } } continue; }
        };
        let usage = analyze_stmt(&mut stmt, &scopes, JumpId::new(7));
        assert_eq!(usage.jumps.len(), 1);
        assert!(!usage.jumps[0].is_break);
        let text = quote::quote!(#stmt).to_string();
        assert!(text.contains("__cairn_jump ! (7)"), "{text}");
    }
}
