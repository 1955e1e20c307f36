//! Moves every await of the workflow into a statement of its own (see the [module
//! doc](super)): statements, `let`s and blocks are walked here, control-flow constructs that
//! hold awaits are kept and their blocks normalized, and everything else that holds an await
//! is an operand, handed to the [`Hoister`](super::hoist).

use proc_macro2::{Ident, Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Block, Expr, ExprIf, ExprMatch, Local, LocalInit, Stmt, parse_quote, parse_quote_spanned,
};

use super::hoist::Hoister;
use crate::ctxt::Ctxt;
use crate::find::has_await;

/// The state of the pass: where errors go, and the names of the temporaries made so far.
pub struct Normalizer<'a> {
    /// The context parameter, whose calls name the steps (see [`crate::names::step_name`]).
    ctx: &'a Ident,
    cx: &'a Ctxt,
    /// Names of the temporaries made so far, to keep them distinct.
    temps: Vec<String>,
}

impl<'a> Normalizer<'a> {
    pub fn new(cx: &'a Ctxt, ctx: &'a Ident) -> Self {
        Normalizer {
            cx,
            ctx,
            temps: Vec::new(),
        }
    }

    pub fn block(&mut self, block: Block) -> Block {
        let mut stmts = Vec::with_capacity(block.stmts.len());
        for stmt in block.stmts {
            self.stmt(stmt, &mut stmts);
        }
        // An await as the block's value gets a `let` too, so that a state follows it.
        if let Some(Stmt::Expr(tail, None)) = stmts.last()
            && crate::await_expr::is_await(tail)
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
    pub fn hoist(&mut self, expr: Expr, out: &mut Vec<Stmt>) -> Expr {
        let expr = self.top(expr, out);
        let temp = self.temp_name(&expr);
        let span = expr.span();
        out.push(parse_quote_spanned! {span=> let #temp = #expr; });
        parse_quote!(#temp)
    }

    /// A fresh name for a temporary holding `expr`, after its step where it has one.
    fn temp_name(&mut self, expr: &Expr) -> Ident {
        let base = crate::names::step_name(expr, self.ctx)
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

fn contains_let(expr: &Expr) -> bool {
    match expr {
        Expr::Let(_) => true,
        Expr::Binary(binary) => contains_let(&binary.left) || contains_let(&binary.right),
        Expr::Paren(paren) => contains_let(&paren.expr),
        _ => false,
    }
}
