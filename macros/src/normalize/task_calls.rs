//! Names every step at its call site: `ctx.task(f, a, b)` becomes
//! `ctx.__task("f", (a, b), |(a, b)| f(a, b))`, so that history, metrics and idempotency keys
//! use the name written in the code (not `std::any::type_name`, which changes with the code
//! around it). Runs on the whole body first, and on the body of the fallback too.

use proc_macro2::{Ident, Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, parse_quote_spanned};

/// Rewrites `ctx.task(f, a, b)` into a named step everywhere in `body` (see [`TaskCalls`]).
pub fn rewrite_task_calls(ctx: &Ident, body: &mut Block) {
    TaskCalls { ctx }.visit_block_mut(body);
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
