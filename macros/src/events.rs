//! The events a workflow waits for, found in its body so that a send can check a payload's
//! type before it is stored: each `ctx.wait_for_event::<T>("name")` (the type as a turbofish,
//! the name as a string literal, on the workflow's context, also behind `.timeout(..)`)
//! becomes an entry of the generated `Workflow::events`:
//!
//! ```text
//! let paid = ctx.wait_for_event::<Payment>("paid").await?;
//! // gives
//! fn events() -> Vec<EventType> {
//!     [(&&EventProbe::<Payment>::named("paid")).event_type()].into_iter().flatten().collect()
//! }
//! ```
//!
//! The probe (see `runtime/src/context/event.rs`) gives nothing for a type without
//! `Deserialize`, so such a type is reported once, at the `wait_for_event` call.
//!
//! A wait whose type is inferred (`let p: Payment = ctx.wait_for_event("paid")`), whose name
//! is not a literal, or whose type names an item declared inside the body (not visible where
//! the `Workflow` impl is) is left out: its payloads are checked when delivered instead. The
//! search does not look into closures, async blocks or nested items, like every search of the
//! workflow's code.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, GenericArgument, Ident, LitStr, Type};

/// One `ctx.wait_for_event::<T>("name")`.
pub struct EventWait {
    pub name: LitStr,
    pub ty: Type,
}

/// The typed event waits of `body`, whose context is named `ctx`.
pub fn find(ctx: &Ident, body: &syn::Block) -> Vec<EventWait> {
    let local_items: Vec<Ident> = body
        .stmts
        .iter()
        .filter_map(|stmt| match stmt {
            syn::Stmt::Item(item) => item_ident(item),
            _ => None,
        })
        .collect();
    let mut finder = Finder {
        ctx,
        local_items: &local_items,
        found: Vec::new(),
    };
    finder.visit_block(body);
    finder.found
}

/// The generated `Workflow::events`, if there are typed waits (else the default, empty).
pub fn events_fn(waits: &[EventWait]) -> Option<TokenStream> {
    if waits.is_empty() {
        return None;
    }
    let entries = waits.iter().map(|EventWait { name, ty }| {
        quote_spanned! {ty.span()=>
            (&&::cairn::__private::EventProbe::<#ty>::named(#name)).event_type()
        }
    });
    Some(quote! {
        fn events() -> ::std::vec::Vec<::cairn::__private::EventType> {
            #[allow(unused_imports)]
            use ::cairn::__private::{ProbeEventType as _, ProbeNoEventType as _};
            [#(#entries),*].into_iter().flatten().collect()
        }
    })
}

fn item_ident(item: &syn::Item) -> Option<Ident> {
    Some(
        match item {
            syn::Item::Struct(s) => &s.ident,
            syn::Item::Enum(e) => &e.ident,
            syn::Item::Type(t) => &t.ident,
            syn::Item::Union(u) => &u.ident,
            syn::Item::Mod(m) => &m.ident,
            syn::Item::Trait(t) => &t.ident,
            _ => return None,
        }
        .clone(),
    )
}

struct Finder<'a> {
    ctx: &'a Ident,
    local_items: &'a [Ident],
    found: Vec<EventWait>,
}

impl Finder<'_> {
    /// Whether `ty` can be named outside the body: no inferred part, no `Self`, no item
    /// declared in the body.
    fn nameable(&self, ty: &Type) -> bool {
        struct Names<'a> {
            local_items: &'a [Ident],
            ok: bool,
        }
        impl<'ast> Visit<'ast> for Names<'_> {
            fn visit_path(&mut self, path: &'ast syn::Path) {
                if let Some(first) = path.segments.first()
                    && (first.ident == "Self" || self.local_items.contains(&first.ident))
                {
                    self.ok = false;
                }
                visit::visit_path(self, path);
            }
            fn visit_type_infer(&mut self, _: &'ast syn::TypeInfer) {
                self.ok = false;
            }
            fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
                self.ok = false;
            }
        }
        let mut names = Names {
            local_items: self.local_items,
            ok: true,
        };
        names.visit_type(ty);
        names.ok
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let on_ctx = matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident(self.ctx));
        if on_ctx
            && call.method == "wait_for_event"
            && let Some(turbofish) = &call.turbofish
            && let [GenericArgument::Type(ty)] = turbofish.args.iter().collect::<Vec<_>>()[..]
            && let Some(Expr::Lit(lit)) = call.args.first()
            && let syn::Lit::Str(name) = &lit.lit
            && self.nameable(ty)
        {
            self.found.push(EventWait {
                name: name.clone(),
                ty: ty.clone(),
            });
        }
        visit::visit_expr_method_call(self, call);
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: syn::Block) -> Vec<String> {
        let ctx: Ident = syn::parse_quote!(ctx);
        find(&ctx, &body)
            .iter()
            .map(|w| {
                let ty = &w.ty;
                format!("{}: {}", w.name.value(), quote::quote!(#ty))
            })
            .collect()
    }

    #[test]
    fn typed_waits_on_the_context_are_found() {
        let body: syn::Block = syn::parse_quote!({
            let a = ctx.wait_for_event::<Payment>("paid").await?;
            let b = ctx.wait_for_event::<u32>("n").timeout(d).await?;
            if x {
                let c = ctx.wait_for_event::<Vec<String>>("tags").await?;
            }
        });
        assert_eq!(
            names(body),
            ["paid: Payment", "n: u32", "tags: Vec < String >"]
        );
    }

    #[test]
    fn untyped_unnamed_local_and_foreign_waits_are_left_out() {
        let body: syn::Block = syn::parse_quote!({
            struct Local;
            let a: u32 = ctx.wait_for_event("inferred").await?;
            let b = ctx.wait_for_event::<u32>(name).await?;
            let c = ctx.wait_for_event::<Local>("local").await?;
            let d = other.wait_for_event::<u32>("other").await?;
            let e = || ctx.wait_for_event::<u32>("closure");
        });
        assert!(names(body).is_empty());
    }
}
