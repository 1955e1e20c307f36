//! Rewrites a workflow body so that lowering only meets awaits in a few simple places.
//!
//! After this pass every `.await` of the workflow is one of
//! - `let PAT = FUTURE.await;` or `let PAT = FUTURE.await?;`
//! - `FUTURE.await;` or `FUTURE.await?;`, also as a block's tail,
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
//! It also rewrites `ctx.task(f, a, b)` into `ctx.__task("f", (a, b), |(a, b)| f(a, b))`, which
//! gives each step the stable name written at the call site, and turns `a && b.await` into an `if`, so that the
//! await still runs only when `a` holds.
//!
//! Evaluation order is kept: an operand evaluated before an await in the same expression (a
//! call argument, a receiver, the left side of an operator) is moved into a temporary of its
//! own before the await, unless it cannot have an effect (a literal, a path, a borrow of one).
//!
//! The pass does not descend into closures, async blocks or nested items: their awaits are
//! theirs, not the workflow's.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    Block, Expr, ExprBinary, ExprIf, ExprMatch, Local, LocalInit, Pat, Stmt, parse_quote,
    parse_quote_spanned,
};

use crate::ctxt::Ctxt;
use crate::find::has_await;

/// Normalizes `body`; problems it cannot rewrite are recorded in `cx`.
pub fn normalize(cx: &Ctxt, ctx: &Ident, mut body: Block) -> Block {
    rewrite_task_calls(ctx, &mut body);
    Unsupported { cx, ctx }.visit_block(&body);
    let mut normalizer = Normalizer {
        cx,
        temps: Vec::new(),
    };
    normalizer.block(body)
}

/// Rewrites `ctx.task(f, a, b)` into a named step everywhere in `body` (see [`TaskCalls`]).
pub fn rewrite_task_calls(ctx: &Ident, body: &mut Block) {
    TaskCalls { ctx }.visit_block_mut(body);
}

/// Whether a macro's tokens contain `.await`: such an await cannot be lowered.
pub fn macro_has_await(tokens: &TokenStream) -> bool {
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

/// `ctx.task(f, a, b)` becomes `ctx.__task("f", (a, b), |(a, b)| f(a, b))`: a step named after
/// the function as written, holding its arguments and the call separately so that a retry
/// policy can call it again. Two contexts change the rewrite:
///
/// ```text
/// ctx.task(f, a).retry(p)       =>  ctx.__task("f", (retried_arg(a),), |(a,)| f(a.into_inner())).retry(p)
/// ctx.parallel((ctx.task(f, a), ctx.task(g, b)))
///                               =>  ctx.parallel((::cairn::step("f", f(a)), ::cairn::step("g", g(b))))
/// ```
///
/// A retried argument is wrapped where it is written, so that one that is not `Clone` is
/// reported there. A task inside the branches of `ctx.parallel` (a tuple, a `vec![..]`, or a
/// `Vec` built by an iterator's closure) becomes a branch, which does not borrow the context;
/// a branch has no retry policy.
struct TaskCalls<'a> {
    ctx: &'a Ident,
}

impl VisitMut for TaskCalls<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::MethodCall(call) = expr
            && self.is_ctx(&call.receiver)
            && call.method == "parallel"
        {
            for branches in &mut call.args {
                BranchTasks { ctx: self.ctx }.visit_expr_mut(branches);
            }
        }
        if let Expr::MethodCall(call) = expr
            && (call.method == "retry" || call.method == "retry_if")
        {
            self.wrap_retried_args(&mut call.receiver);
        }
        syn::visit_mut::visit_expr_mut(self, expr);
        let Some((name, function, args)) = self.task_call(expr) else {
            return;
        };
        let Expr::MethodCall(call) = &*expr else {
            return;
        };
        let params: Vec<Ident> = (0..args.len())
            .map(|i| format_ident!("__arg{}", i, span = Span::mixed_site()))
            .collect();
        let call_args = args.iter().zip(&params).map(|(arg, param)| {
            if is_retried_arg(arg) {
                quote::quote!(::cairn::__private::RetriedArg::into_inner(#param))
            } else {
                quote::quote!(#param)
            }
        });
        let call_args: Vec<TokenStream> = call_args.collect();
        // One-element tuples need their trailing comma.
        let (args, params) = if args.len() == 1 {
            let (arg, param) = (&args[0], &params[0]);
            (quote::quote!((#arg,)), quote::quote!((#param,)))
        } else {
            (quote::quote!((#(#args),*)), quote::quote!((#(#params),*)))
        };
        let receiver = &call.receiver;
        let method = Ident::new("__task", call.method.span());
        *expr = parse_quote_spanned! {call.span()=>
            #receiver.#method(#name, #args, |#params| #function(#(#call_args),*))
        };
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

impl TaskCalls<'_> {
    fn is_ctx(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Path(p) if p.path.is_ident(self.ctx))
    }

    /// `ctx.task(f, args..)` as the step's name, the function and the arguments.
    fn task_call(&self, expr: &Expr) -> Option<(syn::LitStr, Expr, Vec<Expr>)> {
        let Expr::MethodCall(call) = expr else {
            return None;
        };
        if !self.is_ctx(&call.receiver) || call.method != "task" {
            return None;
        }
        let Some(Expr::Path(function)) = call.args.first() else {
            return None;
        };
        let last = function.path.segments.last()?;
        let name = syn::LitStr::new(&last.ident.to_string(), last.ident.span());
        let args = call.args.iter().skip(1).cloned().collect();
        Some((name, Expr::Path(function.clone()), args))
    }

    /// Wraps the arguments of the `ctx.task(..)` that `.retry(..)` is called on (through
    /// `.timeout(..)` and other builder calls) in `::cairn::__private::retried_arg(..)`.
    fn wrap_retried_args(&self, receiver: &mut Expr) {
        let is_task = self.task_call(receiver).is_some();
        let Expr::MethodCall(call) = receiver else {
            return;
        };
        if !is_task {
            if ["timeout", "retry", "retry_if"]
                .iter()
                .any(|m| call.method == m)
            {
                self.wrap_retried_args(&mut call.receiver);
            }
            return;
        }
        for arg in call.args.iter_mut().skip(1) {
            if !is_retried_arg(arg) {
                // The call is generated code (mixed-site) at the argument's place: rustc then
                // reports a missing `Clone` on the argument with the message of `RetryArg`,
                // and without suggesting to borrow it (a `&T` is `Clone`, but the step takes
                // a `T`).
                let span = Span::mixed_site().located_at(arg.span());
                *arg = parse_quote_spanned! {span=>
                    ::cairn::__private::retried_arg({ #arg })
                };
            }
        }
    }
}

/// Whether `expr` is an argument already wrapped by [`TaskCalls::wrap_retried_args`].
fn is_retried_arg(expr: &Expr) -> bool {
    matches!(expr, Expr::Call(call)
        if matches!(&*call.func, Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "retried_arg")))
}

/// Inside the branches of `ctx.parallel(..)`: `ctx.task(f, a, b)` becomes
/// `::cairn::step("f", f(a, b))`, a branch that does not borrow the context.
struct BranchTasks<'a> {
    ctx: &'a Ident,
}

impl VisitMut for BranchTasks<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        let Some((name, function, args)) = (TaskCalls { ctx: self.ctx }).task_call(expr) else {
            return;
        };
        let span = expr.span();
        *expr = parse_quote_spanned! {span=>
            ::cairn::step(#name, #function(#(#args),*))
        };
    }
    /// `vec![ctx.task(f, a), ctx.task(g, b)]`: the elements, when they parse as expressions.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        if !mac.path.is_ident("vec") {
            return;
        }
        type Elems = syn::punctuated::Punctuated<Expr, syn::Token![,]>;
        let Ok(mut elems) = mac.parse_body_with(Elems::parse_terminated) else {
            return;
        };
        for elem in &mut elems {
            self.visit_expr_mut(elem);
        }
        mac.tokens = quote::quote!(#elems);
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
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

struct Normalizer<'a> {
    cx: &'a Ctxt,
    /// Names of the temporaries made so far, to keep them distinct.
    temps: Vec<String>,
}

impl Normalizer<'_> {
    fn block(&mut self, block: Block) -> Block {
        let mut stmts = Vec::with_capacity(block.stmts.len());
        for stmt in block.stmts {
            self.stmt(stmt, &mut stmts);
        }
        // An await as the block's value gets a `let` too, so that a state follows it.
        if let Some(Stmt::Expr(tail, None)) = stmts.last()
            && crate::lower::is_await(tail)
            && let Some(Stmt::Expr(tail, None)) = stmts.pop()
        {
            let temp = self.hoist(tail, &mut stmts);
            stmts.push(Stmt::Expr(temp, None));
        }
        Block {
            brace_token: block.brace_token,
            stmts,
        }
    }

    fn stmt(&mut self, stmt: Stmt, out: &mut Vec<Stmt>) {
        match stmt {
            Stmt::Local(local) => self.local(local, out),
            Stmt::Expr(expr, semi) if has_await(&expr) => {
                let expr = self.top(expr, out);
                out.push(Stmt::Expr(expr, semi));
            }
            other => out.push(other),
        }
    }

    fn local(&mut self, mut local: Local, out: &mut Vec<Stmt>) {
        let Some(init) = local.init.take() else {
            out.push(Stmt::Local(local));
            return;
        };
        if let Some((_, diverge)) = &init.diverge
            && has_await(&**diverge)
        {
            self.cx.error_spanned_by(
                diverge,
                "`.await` in the `else` block of a `let ... else` cannot be made durable; use a `match` instead",
            );
        }
        let has_else = init.diverge.is_some();
        let mut expr = *init.expr;
        if has_await(&expr) {
            expr = if has_else {
                // The else block is ordinary code; the await goes into a `let` of its own.
                self.hoist(expr, out)
            } else {
                self.top(expr, out)
            };
        }
        local.init = Some(LocalInit {
            eq_token: init.eq_token,
            expr: Box::new(expr),
            diverge: init.diverge,
        });
        out.push(Stmt::Local(local));
    }

    /// Normalizes an expression that stands as a statement, a `let` initializer or a block's
    /// tail: awaits and control-flow constructs may stay there.
    fn top(&mut self, expr: Expr, out: &mut Vec<Stmt>) -> Expr {
        if !has_await(&expr) {
            return expr;
        }
        match expr {
            Expr::Paren(paren) => self.top(*paren.expr, out),
            // An await with the code that consumes its outcome stays one statement; only
            // awaits inside the future itself are hoisted.
            mut awaited if crate::await_expr::is_await(&awaited) => {
                if let Some(await_) = crate::await_expr::the_await_mut(&mut awaited) {
                    let base =
                        std::mem::replace(&mut *await_.base, Expr::Verbatim(TokenStream::new()));
                    *await_.base = self.operand(base, out);
                }
                awaited
            }
            Expr::If(if_) => Expr::If(self.if_(if_, out)),
            Expr::Match(match_) => Expr::Match(self.match_(match_, out)),
            Expr::Loop(mut loop_) => {
                loop_.body = self.block(loop_.body);
                Expr::Loop(loop_)
            }
            Expr::While(while_) if has_await(&*while_.cond) => {
                // `while cond { body }` with an await in `cond` becomes
                // `loop { if cond { body } else { break } }`, so the await is a statement again.
                let syn::ExprWhile {
                    attrs,
                    label,
                    cond,
                    body,
                    ..
                } = while_;
                let span = cond.span();
                let loop_: syn::ExprLoop = parse_quote_spanned! {span=>
                    #(#attrs)* #label loop { if #cond #body else { break } }
                };
                self.top(Expr::Loop(loop_), out)
            }
            Expr::While(mut while_) => {
                while_.body = self.block(while_.body);
                Expr::While(while_)
            }
            Expr::ForLoop(mut for_) => {
                *for_.expr = self.operand(*for_.expr, out);
                for_.body = self.block(for_.body);
                Expr::ForLoop(for_)
            }
            Expr::Block(mut block) if block.label.is_none() => {
                block.block = self.block(block.block);
                Expr::Block(block)
            }
            Expr::Block(block) => {
                self.cx.error_spanned_by(
                    &block.label,
                    "a labeled block with `.await` inside cannot be made durable; use a `loop` with `break` instead",
                );
                Expr::Block(block)
            }
            Expr::Unsafe(unsafe_) => {
                self.cx.error_spanned_by(
                    unsafe_.unsafe_token,
                    "`.await` inside an `unsafe` block cannot be made durable; await outside it and keep the `unsafe` block around the code that needs it",
                );
                Expr::Unsafe(unsafe_)
            }
            other => self.operand(other, out),
        }
    }

    fn if_(&mut self, mut if_: ExprIf, out: &mut Vec<Stmt>) -> ExprIf {
        if has_await(&*if_.cond) {
            if contains_let(&if_.cond) {
                // Awaits in the scrutinee of an `if let` can be hoisted; anything after a `let`
                // in a chain may use its bindings, so it has to stay.
                if let Expr::Let(let_) = &mut *if_.cond {
                    *let_.expr = self.operand(*let_.expr.clone(), out);
                } else {
                    self.cx.error_spanned_by(
                        &if_.cond,
                        "`.await` inside an `if let` chain cannot be made durable; await before the `if` and test the variable",
                    );
                }
            } else {
                *if_.cond = self.operand(*if_.cond, out);
            }
        }
        if_.then_branch = self.block(if_.then_branch);
        if let Some((else_token, else_branch)) = if_.else_branch.take() {
            let else_branch = match *else_branch {
                Expr::If(nested) => {
                    // Awaits in an `else if` condition are hoisted into the else block, where
                    // they run only when the first condition failed.
                    let mut pre = Vec::new();
                    let nested = self.if_(nested, &mut pre);
                    if pre.is_empty() {
                        Expr::If(nested)
                    } else {
                        pre.push(Stmt::Expr(Expr::If(nested), None));
                        Expr::Block(syn::ExprBlock {
                            attrs: Vec::new(),
                            label: None,
                            block: Block {
                                brace_token: Default::default(),
                                stmts: pre,
                            },
                        })
                    }
                }
                Expr::Block(mut block) => {
                    block.block = self.block(block.block);
                    Expr::Block(block)
                }
                other => other,
            };
            if_.else_branch = Some((else_token, Box::new(else_branch)));
        }
        if_
    }

    fn match_(&mut self, mut match_: ExprMatch, out: &mut Vec<Stmt>) -> ExprMatch {
        *match_.expr = self.operand(*match_.expr, out);
        for arm in &mut match_.arms {
            if !has_await(&*arm.body) {
                continue;
            }
            let body = std::mem::replace(&mut *arm.body, Expr::Verbatim(TokenStream::new()));
            let block = match body {
                Expr::Block(block) if block.label.is_none() => block.block,
                other => {
                    let span = other.span();
                    parse_quote_spanned! {span=> { #other } }
                }
            };
            *arm.body = Expr::Block(syn::ExprBlock {
                attrs: Vec::new(),
                label: None,
                block: self.block(block),
            });
            arm.comma.get_or_insert_with(Default::default);
        }
        match_
    }

    /// Returns an await-free expression computing `expr`, with each await or await-holding
    /// construct inside it moved into a `let` pushed to `out`.
    fn operand(&mut self, mut expr: Expr, out: &mut Vec<Stmt>) -> Expr {
        if !has_await(&expr) {
            return expr;
        }
        let mut hoister = Hoister {
            normalizer: self,
            out,
        };
        hoister.visit_expr_mut(&mut expr);
        expr
    }

    /// Moves all of `expr` into a `let` of its own and returns the temporary.
    fn hoist(&mut self, expr: Expr, out: &mut Vec<Stmt>) -> Expr {
        let expr = self.top(expr, out);
        let temp = self.temp_name(&expr);
        let span = expr.span();
        out.push(parse_quote_spanned! {span=> let #temp = #expr; });
        parse_quote!(#temp)
    }

    /// A fresh name for a temporary holding `expr`, after its step where it has one.
    fn temp_name(&mut self, expr: &Expr) -> Ident {
        let base = crate::names::step_name(expr)
            .map(|step| crate::names::snake(&step))
            .unwrap_or_else(|| "value".to_owned());
        let mut name = format!("__{base}");
        let mut n = 1;
        while self.temps.contains(&name) {
            n += 1;
            name = format!("__{base}_{n}");
        }
        self.temps.push(name.clone());
        format_ident!("{}", name, span = Span::mixed_site())
    }
}

/// Replaces awaits and await-holding constructs inside an expression with temporaries.
struct Hoister<'n, 'a, 'o> {
    normalizer: &'n mut Normalizer<'a>,
    out: &'o mut Vec<Stmt>,
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

fn contains_let(expr: &Expr) -> bool {
    match expr {
        Expr::Let(_) => true,
        Expr::Binary(binary) => contains_let(&binary.left) || contains_let(&binary.right),
        Expr::Paren(paren) => contains_let(&paren.expr),
        _ => false,
    }
}
