//! Names for what the user reads in `cargo expand`: state variants after the step that led to
//! them (`ctx.task(fetch_papers, ..)` gives `FetchPapers`), and step names for the runtime.
//!
//! Names come from the user's code only: what a step is called never depends on which methods
//! the runtime offers, so that a method added to it later renames no state (state names are
//! part of the layout fingerprint that stored runs carry).

use syn::{Expr, ExprMethodCall, Ident, Lit};

/// The step name of an awaited expression (`FUTURE.await`, `FUTURE.await?` or the future
/// itself): the literal of `ctx.step("name", ..)` or `ctx.__task("name", ..)`, also behind
/// calls made on it such as `.retry(..)`; else, for a chain of calls on the context `ctx`
/// (`ctx.parallel(..).limit(4)`), its first method, whatever is called on its result; else
/// the last path segment of the call or the method awaited.
pub fn step_name(expr: &Expr, ctx: &Ident) -> Option<String> {
    match expr {
        Expr::Await(await_) => step_name(&await_.base, ctx),
        Expr::Try(try_) => step_name(&try_.expr, ctx),
        Expr::Paren(paren) => step_name(&paren.expr, ctx),
        // Code consuming an awaited outcome in place (`.await.context(..)?`, a `match`): the
        // step is the awaited future.
        _ if crate::await_expr::is_await(expr) && !matches!(expr, Expr::Await(_)) => step_name(
            &Expr::Await(crate::await_expr::the_await(expr)?.clone()),
            ctx,
        ),
        Expr::MethodCall(call) => named_step(expr)
            .or_else(|| first_context_call(expr, ctx).map(|first| first.method.to_string()))
            .or_else(|| Some(call.method.to_string())),
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The first call of a chain of method calls made on the context itself (`ctx.parallel(..)` in
/// `ctx.parallel(..).limit(4)`), if the chain starts at `ctx`.
fn first_context_call<'e>(expr: &'e Expr, ctx: &Ident) -> Option<&'e ExprMethodCall> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    match &*call.receiver {
        Expr::Path(path) if path.path.is_ident(ctx) => Some(call),
        receiver => first_context_call(receiver, ctx),
    }
}

/// The name given to a step by `step`, `__task` or `step_fn`, looking through the method
/// calls made on it.
fn named_step(expr: &Expr) -> Option<String> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    if ["step", "__task", "step_fn"]
        .iter()
        .any(|m| call.method == m)
    {
        return match call.args.first() {
            Some(Expr::Lit(lit)) => match &lit.lit {
                Lit::Str(name) => Some(name.value()),
                _ => None,
            },
            _ => Some(call.method.to_string().trim_start_matches('_').to_owned()),
        };
    }
    named_step(&call.receiver)
}

/// `fetch_papers`, `fetch-papers` or `Fetch papers` as `FetchPapers`; empty when nothing is
/// left that can start an identifier.
pub fn pascal(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    match out.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("Step{out}"),
        Some(c) if c.is_alphabetic() && c.is_ascii() => out,
        _ => String::new(),
    }
}

/// A name made of the ASCII letters, digits and underscores of `name`, in lower case.
pub fn snake(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("value");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_follow_the_step() {
        assert_eq!(pascal("fetch_papers"), "FetchPapers");
        assert_eq!(pascal("initial research"), "InitialResearch");
        assert_eq!(pascal("2nd-pass"), "Step2ndPass");
        assert_eq!(pascal("__"), "");
    }

    #[test]
    fn step_names_come_from_the_call() {
        let ctx: Ident = syn::parse_quote!(ctx);
        let name = |expr: Expr| step_name(&expr, &ctx);
        let expr = syn::parse_quote!(ctx.step("analyze", analyze(p)).await?);
        assert_eq!(name(expr).as_deref(), Some("analyze"));
        let expr = syn::parse_quote!(ctx.__task("charge", (a,), f).retry(p).await?);
        assert_eq!(name(expr).as_deref(), Some("charge"));
        let expr = syn::parse_quote!(ctx.parallel(branches).limit(4).await?);
        assert_eq!(name(expr).as_deref(), Some("parallel"));
        let expr = syn::parse_quote!(ctx.sleep(d).await?);
        assert_eq!(name(expr).as_deref(), Some("sleep"));
        let expr = syn::parse_quote!(tokio::time::sleep(d).await);
        assert_eq!(name(expr).as_deref(), Some("sleep"));
    }

    /// A method the runtime adds later to what `ctx.task(..)` or `ctx.parallel(..)` return (any
    /// name at all) does not rename the step, so no stored state's name changes with it.
    #[test]
    fn calls_on_a_context_call_do_not_rename_its_step() {
        let ctx: Ident = syn::parse_quote!(context);
        for method in ["limit", "retry", "not_yet_in_the_runtime", "with_priority"] {
            let method: Ident = syn::parse_str(method).unwrap();
            let expr: Expr = syn::parse_quote!(context.parallel(b).#method(4).await?);
            assert_eq!(step_name(&expr, &ctx).as_deref(), Some("parallel"));
            let expr: Expr = syn::parse_quote!(context.__task("charge", (a,), f).#method(p).await?);
            assert_eq!(step_name(&expr, &ctx).as_deref(), Some("charge"));
        }
        // Not on the context: the method awaited names it, as before.
        let expr: Expr = syn::parse_quote!(client.get(url).send().await?);
        assert_eq!(step_name(&expr, &ctx).as_deref(), Some("send"));
    }
}
