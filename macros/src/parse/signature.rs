//! Reads and checks the signature of a workflow fn:
//! `async fn name(ctx: &mut Context, input: I, ...) -> Result<T, E>`.

use proc_macro2::Ident;
use syn::{Attribute, FnArg, ItemFn, Pat, ReturnType, Type, Visibility};

use crate::ctxt::Ctxt;
use crate::find::{self, Sought};

/// The parts of the signature the expansion needs.
pub struct Signature {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// The context parameter's name, as the body refers to it.
    pub ctx: Ident,
    /// The context parameter's type as written (`&mut Context`).
    pub ctx_ty: Type,
    /// The parameters after the context: the run's input.
    pub inputs: Vec<(Pat, Type)>,
    /// The declared return type.
    pub output: Type,
}

/// Checks the signature, recording every problem in `cx`; `None` when it cannot be used.
pub fn parse(cx: &Ctxt, item: &ItemFn) -> Option<Signature> {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "a workflow must be an `async fn`; add `async` before `fn`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            "a workflow cannot be generic: its stored state must have one concrete layout; use concrete types",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a workflow cannot be variadic");
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => Some((**ty).clone()),
        ReturnType::Default => {
            cx.error_spanned_by(
                &sig.ident,
                "a workflow returns a `Result<T, E>`: add `-> Result<T, E>` (T is stored as the run's output, E's message as its error)",
            );
            None
        }
    };

    let mut params = sig.inputs.iter();
    let ctx = match params.next() {
        Some(FnArg::Typed(arg)) => match &*arg.pat {
            Pat::Ident(pat) if matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_some()) => {
                Some((pat.ident.clone(), (*arg.ty).clone()))
            }
            _ => {
                cx.error_spanned_by(
                    arg,
                    "the first parameter of a workflow is its context: write `ctx: &mut Context`",
                );
                None
            }
        },
        Some(FnArg::Receiver(receiver)) => {
            cx.error_spanned_by(
                receiver,
                "a workflow cannot take `self`: write a free `async fn` whose first parameter is `ctx: &mut Context`",
            );
            None
        }
        None => {
            cx.error_spanned_by(
                &sig.ident,
                "a workflow takes its context first: add the parameter `ctx: &mut Context`",
            );
            None
        }
    };

    let mut inputs = Vec::new();
    // Without the context first, the other parameters cannot be read as the input.
    let params = params.filter(|_| ctx.is_some());
    for param in params {
        match param {
            FnArg::Typed(arg) => {
                if contains_reference(&arg.ty) {
                    cx.error_spanned_by(
                        &arg.ty,
                        "workflow inputs are stored with the run, so they must be owned: use `String` for `&str`, `Vec<T>` for `&[T]`",
                    );
                }
                inputs.push(((*arg.pat).clone(), (*arg.ty).clone()));
            }
            FnArg::Receiver(receiver) => {
                cx.error_spanned_by(receiver, "a workflow cannot take `self`");
            }
        }
    }

    let (ctx, ctx_ty) = ctx?;
    Some(Signature {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        ident: sig.ident.clone(),
        ctx,
        ctx_ty,
        inputs,
        output: output?,
    })
}

fn contains_reference(ty: &Type) -> bool {
    find::contains(ty, Sought::Borrow)
}
