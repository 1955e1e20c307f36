//! Rewrites a workflow body so that lowering only meets awaits in a few simple places. Two
//! rewrites, one file each:
//!
//! - [`task_calls`]: `ctx.task(f, a, b)` becomes `ctx.__task("f", (a, b), |(a, b)| f(a, b))`,
//!   which gives each step the stable name written at the call site (run first, on the whole
//!   body, before [`check`](crate::check));
//! - [`statements`] with [`hoist`]: every `.await` of the workflow becomes a statement of its
//!   own.
//!
//! After [`normalize`] every `.await` of the workflow is an await with the code that consumes
//! its outcome in place (see [`await_expr`](crate::await_expr): `FUTURE.await`,
//! `FUTURE.await?`, `FUTURE.await.context(..)?`, a `match` or `if let` on it) standing as
//! - `let PAT = AWAIT;`, or
//! - `AWAIT;`, also as a block's tail,
//!
//! with an await-free `FUTURE`, or sits inside the blocks of an `if`, `match`, `loop`, `while`,
//! `for` or plain block that is itself a statement, a `let` initializer or a block's tail.
//! Awaits anywhere else in an expression are hoisted into a `let` of their own just before the
//! statement:
//!
//! ```text
//! let x = f(ctx.task(g, a).await?);     =>   let __g = ctx.__task("g", (a,), ..).await?;
//!                                            let x = f(__g);
//! ```
//!
//! `a && b.await` becomes an `if`, so that the await still runs only when `a` holds, and a
//! `while` whose condition awaits becomes a `loop` with an `if`.
//!
//! Evaluation order is kept: an operand evaluated before an await in the same expression (a
//! call argument, a receiver, the left side of an operator) is moved into a temporary of its
//! own before the await, unless it cannot have an effect (a literal, a path, a borrow of one).
//!
//! The pass does not descend into closures, async blocks or nested items: their awaits are
//! theirs, not the workflow's.

mod hoist;
mod statements;
mod task_calls;

pub use task_calls::rewrite_task_calls;

use syn::{Block, Ident};

use crate::ctxt::Ctxt;
use statements::Normalizer;

/// Makes every await of `body` a statement of its own; problems it cannot rewrite are recorded
/// in `cx`. Expects the steps already named by [`rewrite_task_calls`].
pub fn normalize(cx: &Ctxt, ctx: &Ident, body: Block) -> Block {
    Normalizer::new(cx, ctx).block(body)
}
