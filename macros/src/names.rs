//! Names for what the user reads in `cargo expand`: state variants after the step that led to
//! them (`ctx.task(fetch_papers, ..)` gives `FetchPapers`), and step names for the runtime.

use syn::{Expr, Lit};

/// The step name of an awaited expression (`FUTURE.await`, `FUTURE.await?` or the future
/// itself): the literal of `ctx.step("name", ..)` or `ctx.__task("name", ..)`, also behind
/// builder calls such as `.retry(..)`; else the last path segment of the call or the method
/// awaited.
pub fn step_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Await(await_) => step_name(&await_.base),
        Expr::Try(try_) => step_name(&try_.expr),
        Expr::Paren(paren) => step_name(&paren.expr),
        // Code consuming an awaited outcome in place (`.await.context(..)?`, a `match`): the
        // step is the awaited future.
        _ if crate::await_expr::is_await(expr) && !matches!(expr, Expr::Await(_)) => {
            step_name(&Expr::Await(crate::await_expr::the_await(expr)?.clone()))
        }
        Expr::MethodCall(call) if BUILDER_METHODS.iter().any(|m| call.method == m) => {
            named_step(expr).or_else(|| step_name(&call.receiver))
        }
        Expr::MethodCall(call) => named_step(expr).or_else(|| Some(call.method.to_string())),
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Methods that configure a step before it is awaited; the step is named after what they
/// configure (`ctx.parallel(..).limit(4)` is a `parallel`).
const BUILDER_METHODS: &[&str] = &["limit", "retry", "retry_if", "timeout", "settled", "named"];

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
        let expr: Expr = syn::parse_quote!(ctx.step("analyze", analyze(p)).await?);
        assert_eq!(step_name(&expr).as_deref(), Some("analyze"));
        let expr: Expr = syn::parse_quote!(ctx.__task("charge", (a,), f).retry(p).await?);
        assert_eq!(step_name(&expr).as_deref(), Some("charge"));
        let expr: Expr = syn::parse_quote!(ctx.parallel(branches).limit(4).await?);
        assert_eq!(step_name(&expr).as_deref(), Some("parallel"));
        let expr: Expr = syn::parse_quote!(ctx.sleep(d).await?);
        assert_eq!(step_name(&expr).as_deref(), Some("sleep"));
        let expr: Expr = syn::parse_quote!(tokio::time::sleep(d).await);
        assert_eq!(step_name(&expr).as_deref(), Some("sleep"));
    }
}
