//! Lowers a normalized body into the [`ir`](crate::ir) tree: finds the await points, gives each
//! a state, adds the transient states where paths meet and at loop heads, resolves every
//! variable to its binding, and builds the control-flow graph the liveness pass runs over.
//!
//! Statements without awaits stay as the user wrote them. Only the constructs that hold an
//! await are taken apart, and each one ends every path through it with a transition, so the
//! code after it is written once, in the state that follows it:
//!
//! ```text
//! let a = ctx.task(f, x).await?;   Start { x }:   let a = ctx.__task("f", (x,), ..).await?;
//! let b = if a > 1 {                              -> F { a }
//!     ctx.task(g, a).await?        F { a }:       if a > 1 {
//! } else {                                            let __g = ctx.__task("g", (a,), ..).await?;
//!     0                                               -> G { __g }
//! };                                              } else { let b = 0; -> AfterIf { b } }
//! Ok(b)                            G { __g }:     let b = __g; -> AfterIf { b }
//!                                  AfterIf { b }: return Ok(b);
//! ```
//!
//! One file per part: [`block`] (statements and awaits), [`construct`] (`if`, `match`,
//! blocks), [`loops`], [`paths`] (where a path ends: delivering a value, a jump to a loop).

mod block;
mod construct;
mod loops;
mod paths;

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use quote::format_ident;
use syn::{Expr, Pat};

use crate::ctxt::Ctxt;
use crate::find::{self, Sought, has_await};
use crate::ir::*;
use crate::parse::signature::Signature;
use crate::scope::{self, Scopes};

/// Lowers `body` (already normalized) of the workflow with signature `sig`.
pub fn lower(cx: &Ctxt, sig: &Signature, body: syn::Block) -> Body {
    let mut lowerer = Lowerer {
        cx,
        ctx: &sig.ctx,
        body: Body::default(),
        scopes: Scopes::default(),
        loop_stack: Vec::new(),
        next_order: 0,
        used_names: Vec::new(),
    };
    lowerer.scopes.push();
    for (pat, ty) in &sig.inputs {
        lowerer.declare_pattern(pat, Some(ty), true);
    }
    let entry = lowerer.node(BTreeSet::new(), BTreeSet::new());
    // The start state runs the fn body, the first block lowered.
    let root = lowerer.body.blocks.next_id();
    let start = lowerer.new_state(
        Some("Start"),
        StateKind::Start,
        None,
        "The run's start, holding its inputs. Not stored: the input is stored with the run."
            .to_owned(),
        Entry::Block {
            block: root,
            index: 0,
        },
        Some(entry),
    );
    debug_assert!(start == StateId::START);
    let lowered = lowerer.lower_block(
        body,
        Cont {
            out: Out::Return,
            next: None,
        },
        Some(entry),
    );
    debug_assert!(lowered == root);
    lowerer.body
}

struct Lowerer<'a> {
    cx: &'a Ctxt,
    /// The context parameter, whose calls name the steps (see [`names::step_name`]).
    ctx: &'a syn::Ident,
    body: Body,
    scopes: Scopes,
    /// The lowered loops around the code being lowered, innermost last.
    loop_stack: Vec<LoopId>,
    next_order: usize,
    used_names: Vec<String>,
}

impl Lowerer<'_> {
    // ---- the control-flow graph -------------------------------------------------------------

    fn node(&mut self, reads: BTreeSet<VarId>, defs: BTreeSet<VarId>) -> NodeId {
        self.body.nodes.push(Node {
            reads,
            defs,
            succ: Vec::new(),
        })
    }

    fn edge(&mut self, from: Option<NodeId>, to: NodeId) {
        if let Some(from) = from {
            self.body.nodes[from].succ.push(to);
        }
    }

    // ---- variables --------------------------------------------------------------------------

    fn new_var(
        &mut self,
        ident: Ident,
        mutable: bool,
        ty: Option<syn::Type>,
        is_param: bool,
    ) -> VarId {
        let check_span = Some(ident.span());
        self.body.vars.push(Var {
            ident,
            ty,
            mutable,
            is_param,
            check_span,
            step_result: false,
        })
    }

    /// Makes variables for the bindings of `pat`, without declaring them yet.
    fn pattern_vars(&mut self, pat: &Pat, ty: Option<&syn::Type>, is_param: bool) -> Vec<VarId> {
        let (pat, ty) = match pat {
            Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            other => (other, ty),
        };
        // A written type is kept only where it is the type of one variable, and fully known.
        let single_ty = match pat {
            Pat::Ident(ident) if ident.subpat.is_none() && ident.by_ref.is_none() => {
                ty.filter(|ty| !has_inferred_parts(ty)).cloned()
            }
            _ => None,
        };
        scope::pattern_bindings(pat)
            .into_iter()
            .map(|(ident, mutable)| self.new_var(ident, mutable, single_ty.clone(), is_param))
            .collect()
    }

    fn declare(&mut self, vars: &[VarId]) {
        for &var in vars {
            let name = self.body.vars[var].ident.to_string();
            self.scopes.declare(name, var);
        }
    }

    fn declare_pattern(&mut self, pat: &Pat, ty: Option<&syn::Type>, is_param: bool) -> Vec<VarId> {
        let vars = self.pattern_vars(pat, ty, is_param);
        self.declare(&vars);
        vars
    }

    // ---- states -----------------------------------------------------------------------------

    /// A new state; its arm comes after every state made before it, unless `place` is called.
    fn new_state(
        &mut self,
        name: Option<&str>,
        kind: StateKind,
        step: Option<String>,
        doc: String,
        entry: Entry,
        node: Option<NodeId>,
    ) -> StateId {
        let node = node.unwrap_or_else(|| self.node(BTreeSet::new(), BTreeSet::new()));
        let name = match name {
            Some(name) => self.unique_name(name),
            None => format_ident!("Unnamed"),
        };
        let order = self.next_order;
        self.next_order += 1;
        self.body.states.push(State {
            name,
            kind,
            step,
            doc,
            node,
            entry,
            order,
            scopes: self.scopes.clone(),
            fields: Vec::new(),
        })
    }

    /// Moves the arm of `state` after every arm so far: a join's code follows its branches.
    fn place(&mut self, state: StateId) {
        self.body.states[state].order = self.next_order;
        self.body.states[state].scopes = self.scopes.clone();
        self.next_order += 1;
    }

    fn unique_name(&mut self, base: &str) -> Ident {
        let base = if base.is_empty() { "Await" } else { base };
        let mut name = base.to_owned();
        let mut n = 1;
        while self.used_names.contains(&name) {
            n += 1;
            name = format!("{base}{n}");
        }
        self.used_names.push(name.clone());
        format_ident!("{}", name)
    }

    fn state_node(&self, state: StateId) -> NodeId {
        self.body.states[state].node
    }

    /// Ordinary code must hold no await of the workflow: one there would complete without a
    /// state after it. Normalization guarantees this; the check keeps a gap in it from
    /// turning into a silent loss of durability.
    fn check_no_await<T: find::Searchable + quote::ToTokens>(&self, code: &T) {
        // After an error from normalization, this would only say the same thing again.
        if self.cx.is_ok() && has_await(code) {
            self.cx.error_spanned_by(
                code,
                "cairn cannot make this `.await` durable here; bind the awaited value with `let` in a statement of its own (and please report this case)",
            );
        }
    }

    fn site(&self, span: Span, hidden: Vec<String>) -> Site {
        Site {
            scopes: self.scopes.clone(),
            hidden,
            span,
        }
    }

    fn reads_of(&mut self, expr: &Expr) -> BTreeSet<VarId> {
        let mut expr = expr.clone();
        scope::analyze_expr(&mut expr, &self.scopes, self.body.jumps.next_id()).reads
    }
}

/// The patterns of the `let`s in an `if` or `while` condition (`if let P = e && let Q = f`).
fn let_patterns(cond: &Expr) -> Vec<&Pat> {
    match cond {
        Expr::Let(let_) => vec![&*let_.pat],
        Expr::Binary(binary) if matches!(binary.op, syn::BinOp::And(_)) => {
            let mut pats = let_patterns(&binary.left);
            pats.extend(let_patterns(&binary.right));
            pats
        }
        Expr::Paren(paren) => let_patterns(&paren.expr),
        _ => Vec::new(),
    }
}

/// Whether a written type leaves something to inference (`_`, `impl Trait`).
fn has_inferred_parts(ty: &syn::Type) -> bool {
    find::contains(ty, Sought::InferredType)
}

/// ` (line N)` where the span knows its line.
fn line_suffix(span: Span) -> String {
    match span.start().line {
        0 => String::new(),
        line => format!(" (line {line})"),
    }
}
