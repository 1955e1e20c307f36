//! Which expressions count as one await: a step's future awaited, with the code that consumes
//! its outcome right away.
//!
//! ```text
//! ctx.task(f, x).await                         the outcome itself
//! ctx.task(f, x).await?                        `?` and method calls on the outcome:
//! ctx.task(f, x).await.context("reading")?       `.map_err(..)?`, `.unwrap_or(..)`, `.ok()`, ...
//! match ctx.task(f, x).await { Ok(v) => v, Err(_) => fallback }
//! if let Ok(v) = ctx.task(f, x).await { .. } else { .. }
//! ```
//!
//! Such an expression, as a statement or a `let` initializer, is lowered as one await: its code
//! runs as part of the step, before the commit, and the state after it holds what the whole
//! expression produced, never the step's error. That is how a `Result` whose error type cannot
//! be stored (`std::io::Error`, `anyhow::Error`) is handled without storing it: a crash before
//! the commit runs the step and this code again (at-least-once, like any step), a resume after
//! it continues from the value the committed run produced, so it takes the same branch.
//!
//! The arms of a `match` (and the blocks of an `if let`) qualify only when they hold no
//! `.await`, no `break` or `continue` and no assignment with `=`: those need states and
//! transitions of their own, so such a construct is lowered the ordinary way, where the
//! outcome is held in a variable, stored, and its error must be serializable.

use syn::{Expr, ExprAwait};

use crate::find::{self, Sought, has_await};

/// Whether `expr` is an await with the code that consumes its outcome (see the module doc).
pub fn is_await(expr: &Expr) -> bool {
    match expr {
        Expr::Await(_) => true,
        Expr::Try(try_) => is_await(&try_.expr),
        Expr::MethodCall(call) => is_await(&call.receiver) && !call.args.iter().any(has_await),
        Expr::Match(match_) => {
            is_await(&match_.expr)
                && match_.arms.iter().all(|arm| {
                    arm.guard
                        .as_ref()
                        .is_none_or(|(_, guard)| runs_in_place(guard))
                        && runs_in_place(&arm.body)
                })
        }
        Expr::If(if_) => {
            matches!(&*if_.cond, Expr::Let(let_) if is_await(&let_.expr))
                && runs_in_place(&Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: if_.then_branch.clone(),
                }))
                && if_
                    .else_branch
                    .as_ref()
                    .is_none_or(|(_, els)| runs_in_place(els))
        }
        _ => false,
    }
}

/// The await of an expression for which [`is_await`] holds.
pub fn the_await(expr: &Expr) -> Option<&ExprAwait> {
    match expr {
        Expr::Await(await_) => Some(await_),
        Expr::Try(try_) => the_await(&try_.expr),
        Expr::MethodCall(call) => the_await(&call.receiver),
        Expr::Match(match_) => the_await(&match_.expr),
        Expr::If(if_) => match &*if_.cond {
            Expr::Let(let_) => the_await(&let_.expr),
            _ => None,
        },
        _ => None,
    }
}

/// [`the_await`], mutably: normalization hoists the awaits inside the future itself.
pub fn the_await_mut(expr: &mut Expr) -> Option<&mut ExprAwait> {
    match expr {
        Expr::Await(await_) => Some(await_),
        Expr::Try(try_) => the_await_mut(&mut try_.expr),
        Expr::MethodCall(call) => the_await_mut(&mut call.receiver),
        Expr::Match(match_) => the_await_mut(&mut match_.expr),
        Expr::If(if_) => match &mut *if_.cond {
            Expr::Let(let_) => the_await_mut(&mut let_.expr),
            _ => None,
        },
        _ => None,
    }
}

/// Whether code can run before the commit: no await, no jump, no assignment that the
/// lowering would have to track.
fn runs_in_place(expr: &Expr) -> bool {
    !find::contains(expr, Sought::JumpOrAssign) && !has_await(expr)
}
