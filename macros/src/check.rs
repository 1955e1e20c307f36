//! Reports every `.await` in a place that cannot become a state, each with what to write
//! instead: in a closure, a match guard, a macro invocation, a concurrent macro (`join!`,
//! `select!`), and the context used inside an async block or async closure. Runs before
//! normalization, on the body with its steps named, so that all such errors come at once.
//! (Places that normalization itself cannot rewrite are reported there: a `let ... else`, a
//! labeled block, an `unsafe` block, an `if let` chain.)

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use syn::Block;
use syn::visit::Visit;

use crate::ctxt::Ctxt;
use crate::find::has_await;

/// Records an error in `cx` for every await of `body` that cannot be made durable where it is.
pub fn await_positions(cx: &Ctxt, ctx: &Ident, body: &Block) {
    Unsupported { cx, ctx }.visit_block(body);
}

/// Reports awaits in places that cannot become states.
struct Unsupported<'a> {
    cx: &'a Ctxt,
    ctx: &'a Ident,
}

/// Macros that await several futures at once.
const CONCURRENT_MACROS: &[&str] = &["join", "try_join", "select", "select_biased"];

impl<'ast> Visit<'ast> for Unsupported<'_> {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        if let Some(name) = name.filter(|n| CONCURRENT_MACROS.contains(&n.as_str())) {
            self.cx.error_spanned_by(
                mac,
                format!(
                    "`{name}!` awaits several futures at once, which cannot be made durable step by step; run steps concurrently with `ctx.parallel((cairn::step(\"a\", a()), cairn::step(\"b\", b())))`, which commits each result as it completes"
                ),
            );
        } else if macro_has_await(&mac.tokens) {
            self.cx.error_spanned_by(
                mac,
                "`.await` inside a macro invocation cannot be made durable; bind the awaited value with `let` before the macro and pass the variable",
            );
        }
    }
    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        if let Some((_, guard)) = &arm.guard
            && has_await(&**guard)
        {
            self.cx.error_spanned_by(
                guard,
                "`.await` inside a match guard cannot be made durable; await the value before the `match` and test the variable",
            );
        }
        syn::visit::visit_arm(self, arm);
    }
    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        if closure.asyncness.is_some() {
            self.check_no_context(&closure.body, "an async closure");
        } else {
            if has_await(&*closure.body) {
                self.cx.error_spanned_by(
                    closure,
                    "`.await` inside a closure cannot be made durable; use a `for` loop over a `Vec` instead of `.map()` or `.for_each()`, so that each await becomes a state",
                );
            }
        }
    }
    fn visit_expr_async(&mut self, async_: &'ast syn::ExprAsync) {
        self.check_no_context(&async_.block, "an async block");
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

impl Unsupported<'_> {
    /// The context is `&mut`: code that runs concurrently with the workflow cannot use it.
    fn check_no_context<T: quote::ToTokens>(&self, code: &T, what: &str) {
        if let Some(span) = find_ident(code.to_token_stream(), self.ctx) {
            self.cx.syn_error(syn::Error::new(
                span,
                format!(
                    "the workflow context cannot be used inside {what}: steps run one at a time, each committed before the next; to run steps concurrently use `ctx.parallel(...)`"
                ),
            ));
        }
    }
}

/// The span of the first token `ident` in `tokens`, looking into groups.
fn find_ident(tokens: TokenStream, ident: &Ident) -> Option<Span> {
    tokens.into_iter().find_map(|token| match token {
        TokenTree::Ident(found) if found == *ident => Some(found.span()),
        TokenTree::Group(group) => find_ident(group.stream(), ident),
        _ => None,
    })
}

/// Whether a macro's tokens contain `.await`: such an await cannot be lowered.
fn macro_has_await(tokens: &TokenStream) -> bool {
    let mut previous_dot = false;
    for token in tokens.clone() {
        match &token {
            TokenTree::Ident(ident) if previous_dot && ident == "await" => return true,
            TokenTree::Group(group) if macro_has_await(&group.stream()) => return true,
            _ => {}
        }
        previous_dot = matches!(&token, TokenTree::Punct(p) if p.as_char() == '.');
    }
    false
}
