//! Takes the awaits out of an expression: each await, or construct holding one, moves into a
//! `let` of its own before the statement, and the expression reads the temporary. Operands
//! evaluated before an await keep running before it.
//!
//! ```text
//! let x = f(g(), ctx.task(h, a).await?);   =>   let __value = g();
//!                                                let __h = ctx.__task("h", (a,), ..).await?;
//!                                                let x = f(__value, __h);
//! ```

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprBinary, Pat, Stmt, parse_quote_spanned};

use super::statements::Normalizer;
use crate::find::has_await;

/// Replaces awaits and await-holding constructs inside an expression with temporaries.
pub struct Hoister<'n, 'a, 'o> {
    pub normalizer: &'n mut Normalizer<'a>,
    pub out: &'o mut Vec<Stmt>,
}

impl VisitMut for Hoister<'_, '_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if !has_await(expr) {
            return;
        }
        let take = |expr: &mut Expr| std::mem::replace(expr, Expr::Verbatim(TokenStream::new()));
        match expr {
            Expr::Await(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Block(_)
            | Expr::Unsafe(_) => {
                *expr = self.normalizer.hoist(take(expr), self.out);
            }
            // `.await?`, also after `.context(..)` or `.map_err(..)`: the error is handled
            // before the commit. (A chain without `?` may borrow from the outcome, so only the
            // await itself is hoisted there.)
            Expr::Try(_) if crate::await_expr::is_await(expr) => {
                *expr = self.normalizer.hoist(take(expr), self.out);
            }
            Expr::Binary(binary) if is_short_circuit(binary) && has_await(&*binary.right) => {
                // `a && b` evaluates `b` only when `a` holds: keep that with an `if`.
                let ExprBinary {
                    left, op, right, ..
                } = binary;
                let span = op.span();
                let if_: Expr = match op {
                    syn::BinOp::And(_) => {
                        parse_quote_spanned! {span=> if #left { #right } else { false } }
                    }
                    _ => parse_quote_spanned! {span=> if #left { true } else { #right } },
                };
                *expr = self.normalizer.hoist(if_, self.out);
            }
            Expr::Closure(_) | Expr::Async(_) | Expr::Macro(_) => {}
            _ => {
                let mut operands = operands_in_order(expr);
                if operands.is_empty() {
                    syn::visit_mut::visit_expr_mut(self, expr);
                } else {
                    self.operands(&mut operands);
                }
            }
        }
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_pat_mut(&mut self, _: &mut Pat) {}
}

impl Hoister<'_, '_, '_> {
    /// Hoists the awaits of operands evaluated in this order. An operand evaluated before the
    /// last one holding an await is moved into a temporary of its own first (unless it cannot
    /// have an effect), so that it still runs before that await.
    fn operands(&mut self, operands: &mut [&mut Expr]) {
        let Some(last) = operands.iter().rposition(|operand| has_await(&**operand)) else {
            return;
        };
        for operand in &mut operands[..last] {
            self.visit_expr_mut(operand);
            if !is_effect_free(operand) {
                let value = std::mem::replace(&mut **operand, Expr::Verbatim(TokenStream::new()));
                **operand = self.normalizer.hoist(value, self.out);
            }
        }
        self.visit_expr_mut(operands[last]);
    }
}

/// The operands of `expr` in the order Rust evaluates them, for the expressions whose
/// operands are all evaluated; empty for the others.
fn operands_in_order(expr: &mut Expr) -> Vec<&mut Expr> {
    match expr {
        Expr::Call(call) => std::iter::once(&mut *call.func)
            .chain(call.args.iter_mut())
            .collect(),
        Expr::MethodCall(call) => std::iter::once(&mut *call.receiver)
            .chain(call.args.iter_mut())
            .collect(),
        Expr::Binary(binary) if !is_short_circuit(binary) => {
            vec![&mut *binary.left, &mut *binary.right]
        }
        Expr::Tuple(tuple) => tuple.elems.iter_mut().collect(),
        Expr::Array(array) => array.elems.iter_mut().collect(),
        Expr::Struct(strukt) => strukt.fields.iter_mut().map(|f| &mut f.expr).collect(),
        Expr::Index(index) => vec![&mut *index.expr, &mut *index.index],
        _ => Vec::new(),
    }
}

/// Whether evaluating `expr` can have no effect, so that it may run after an await that
/// originally followed it: literals, paths, field accesses and borrows of those.
fn is_effect_free(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) | Expr::Path(_) | Expr::Closure(_) => true,
        Expr::Field(field) => is_effect_free(&field.base),
        Expr::Reference(reference) => is_effect_free(&reference.expr),
        Expr::Paren(paren) => is_effect_free(&paren.expr),
        _ => false,
    }
}

fn is_short_circuit(binary: &ExprBinary) -> bool {
    matches!(binary.op, syn::BinOp::And(_) | syn::BinOp::Or(_))
}
