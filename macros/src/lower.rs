//! Lowers a normalized body into the [`ir`](crate::ir) tree: finds the await points, gives each
//! a state, adds the transient states where paths meet and at loop heads, resolves every
//! variable to its binding, and builds the control-flow graph the liveness pass runs over.
//!
//! Statements without awaits stay as the user wrote them. Only the constructs that hold an
//! await are taken apart, and each one ends every path through it with a transition, so the
//! code after it is written once, in the state that follows it:
//!
//! ```text
//! let a = ctx.task(f, x).await?;    Start:     let a = ctx.step("f", f(x)).await?; -> F { a }
//! if a > 1 {                        F { a }:   if a > 1 { let b = ...await?; -> G { b } }
//!     let b = ctx.task(g, a).await?;           else { let b = 0; -> AfterIf { b } }
//!     b                             G { b }:   -> AfterIf { b }
//! } else { 0 };                     AfterIf:   return Ok(b);
//! ```

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{Expr, Pat, Stmt as SynStmt};

use crate::ctxt::Ctxt;
use crate::find::{self, Sought, has_await};
use crate::ir::*;
use crate::names;
use crate::parse::signature::Signature;
use crate::scope::{self, Scopes, VarId};

/// Lowers `body` (already normalized) of the workflow with signature `sig`.
pub fn lower(cx: &Ctxt, sig: &Signature, body: syn::Block) -> Body {
    let mut lowerer = Lowerer {
        cx,
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

    // ---- blocks and statements --------------------------------------------------------------

    fn lower_block(&mut self, block: syn::Block, cont: Cont, cur: Option<NodeId>) -> BlockId {
        let end_span = block.brace_token.span.close();
        let id = self.body.blocks.push(Block {
            stmts: Vec::new(),
            tail: None,
            cont: cont.clone(),
            end_reachable: true,
        });
        self.scopes.push();

        let mut stmts = block.stmts;
        let tail = match stmts.last() {
            Some(SynStmt::Expr(_, None)) => match stmts.pop() {
                Some(SynStmt::Expr(expr, None)) => Some(expr),
                _ => unreachable!(),
            },
            _ => None,
        };

        let mut out = Vec::new();
        let mut cur = cur;
        for stmt in stmts {
            let index = out.len();
            match stmt {
                SynStmt::Item(item) => self.body.items.push(item),
                SynStmt::Local(local)
                    if local
                        .init
                        .as_ref()
                        .is_some_and(|i| i.diverge.is_none() && is_await(&i.expr)) =>
                {
                    let init = local.init.as_ref().unwrap();
                    let reads = self.reads_of(&init.expr);
                    let vars = self.declare_pattern(&local.pat, None, false);
                    for &var in &vars {
                        self.body.vars[var].step_result = true;
                        // A temporary made by normalization: point at the `.await`.
                        if self.body.vars[var].ident.to_string().starts_with("__") {
                            let span = crate::await_expr::the_await(&init.expr)
                                .map_or_else(|| init.expr.span(), |a| a.await_token.span);
                            self.body.vars[var].check_span = Some(span);
                        }
                    }
                    let (state, next) = self.await_state(&init.expr, id, index, reads, vars, cur);
                    cur = Some(next);
                    out.push(Stmt::Await {
                        stmt: SynStmt::Local(local),
                        state,
                    });
                }
                SynStmt::Local(mut local)
                    if local
                        .init
                        .as_ref()
                        .is_some_and(|i| i.diverge.is_none() && is_construct(&i.expr)) =>
                {
                    let init = local.init.take().unwrap();
                    let vars = self.pattern_vars(&local.pat, None, false);
                    let pat = local.pat.clone();
                    let (construct, next) = self.construct_then_join(
                        *init.expr,
                        Out::Bind {
                            pat: Box::new(pat),
                            vars: vars.clone(),
                        },
                        id,
                        index,
                        cur,
                        Some(&vars),
                    );
                    cur = next;
                    out.push(Stmt::Construct(construct));
                }
                SynStmt::Expr(expr, semi) if is_await(&expr) => {
                    let reads = self.reads_of(&expr);
                    let (state, next) = self.await_state(&expr, id, index, reads, Vec::new(), cur);
                    cur = Some(next);
                    out.push(Stmt::Await {
                        stmt: SynStmt::Expr(expr, semi),
                        state,
                    });
                }
                SynStmt::Expr(expr, _) if is_construct(&expr) => {
                    let (construct, next) =
                        self.construct_then_join(expr, Out::Discard, id, index, cur, None);
                    cur = next;
                    out.push(Stmt::Construct(construct));
                }
                plain => {
                    let (stmt, assigns, next) = self.plain(plain, cur);
                    cur = next;
                    out.push(Stmt::Plain { stmt, assigns });
                }
            }
        }

        let tail = match tail {
            Some(expr) if is_construct(&expr) => {
                let construct = self.construct(expr, cont, cur);
                Some(Tail::Construct(Box::new(construct)))
            }
            Some(mut expr) => {
                self.check_no_await(&expr);
                let usage = scope::analyze_expr(&mut expr, &self.scopes, self.body.jumps.next_id());
                let node = self.node(usage.reads, BTreeSet::new());
                self.edge(cur, node);
                let site = self.site(expr.span(), Vec::new());
                for jump in usage.jumps {
                    self.jump(jump, node, &site.scopes);
                }
                if diverges_expr(&expr) {
                    self.body.blocks[id].end_reachable = false;
                } else {
                    self.deliver(&cont, Some(node), end_span);
                }
                Some(Tail::Plain(Box::new(expr)))
            }
            None if cur.is_none() => {
                self.body.blocks[id].end_reachable = false;
                None
            }
            None => {
                self.deliver(&cont, cur, end_span);
                None
            }
        };

        self.scopes.pop();
        let block = &mut self.body.blocks[id];
        block.stmts = out;
        block.tail = tail;
        id
    }

    /// Ordinary code: one node, plus the jumps out of it.
    fn plain(
        &mut self,
        mut stmt: SynStmt,
        cur: Option<NodeId>,
    ) -> (SynStmt, BTreeSet<VarId>, Option<NodeId>) {
        self.check_no_await(&stmt);
        let usage = scope::analyze_stmt(&mut stmt, &self.scopes, self.body.jumps.next_id());
        let mut defs = BTreeSet::new();
        match &stmt {
            SynStmt::Local(local) => {
                let ty = None;
                defs.extend(self.declare_pattern(&local.pat, ty, false));
            }
            SynStmt::Expr(Expr::Assign(assign), _) => {
                if let Expr::Path(path) = &*assign.left
                    && let Some(ident) = path.path.get_ident()
                    && let Some(var) = self.scopes.lookup(&ident.to_string())
                {
                    defs.insert(var);
                }
            }
            _ => {}
        }
        let node = self.node(usage.reads, defs);
        self.edge(cur, node);
        let scopes = self.scopes.clone();
        for jump in usage.jumps {
            self.jump(jump, node, &scopes);
        }
        let next = if diverges(&stmt) { None } else { Some(node) };
        (stmt, usage.assigns, next)
    }

    /// The node of an await, and the stored state after it.
    fn await_state(
        &mut self,
        awaited: &Expr,
        block: BlockId,
        index: usize,
        reads: BTreeSet<VarId>,
        vars: Vec<VarId>,
        cur: Option<NodeId>,
    ) -> (StateId, NodeId) {
        let node = self.node(reads, vars.into_iter().collect());
        self.edge(cur, node);
        let step = names::step_name(awaited);
        let name = step.as_deref().map(names::pascal).unwrap_or_default();
        let doc = match &step {
            Some(step) => format!("After step `{step}`{}.", line_suffix(awaited.span())),
            None => format!("After the await{}.", line_suffix(awaited.span())),
        };
        let state = self.new_state(
            Some(&name),
            StateKind::Await,
            step,
            doc,
            Entry::Block {
                block,
                index: index + 1,
            },
            None,
        );
        let point = self.state_node(state);
        self.edge(Some(node), point);
        let site = self.site(awaited.span(), Vec::new());
        self.body.transitions.push((state, site));
        (state, point)
    }

    /// A construct in statement or `let` position, and the join state after it.
    fn construct_then_join(
        &mut self,
        expr: Expr,
        out: Out,
        block: BlockId,
        index: usize,
        cur: Option<NodeId>,
        bound: Option<&[VarId]>,
    ) -> (Construct, Option<NodeId>) {
        let (prefix, what) = match &expr {
            Expr::If(_) => ("AfterIf", "the branches of the `if`"),
            Expr::Match(_) => ("AfterMatch", "the arms of the `match`"),
            Expr::Block(_) => ("AfterBlock", "the block"),
            _ => ("", "the loop"),
        };
        let doc = format!("After {what}{}. Not stored.", line_suffix(expr.span()));
        // Named once the construct is lowered: after a loop, the name follows its head's.
        let join = self.new_state(
            None,
            StateKind::Join,
            None,
            doc,
            Entry::Block {
                block,
                index: index + 1,
            },
            None,
        );
        let construct = self.construct(
            expr,
            Cont {
                out,
                next: Some(join),
            },
            cur,
        );
        let name = match &construct {
            Construct::Loop(id) => {
                format!("After{}", self.body.states[self.body.loops[*id].head].name)
            }
            _ => prefix.to_owned(),
        };
        self.body.states[join].name = self.unique_name(&name);
        if let Some(vars) = bound {
            self.declare(vars);
        }
        self.place(join);
        (construct, Some(self.state_node(join)))
    }

    fn construct(&mut self, expr: Expr, cont: Cont, cur: Option<NodeId>) -> Construct {
        match expr {
            Expr::If(if_) => self.lower_if(if_, cont, cur),
            Expr::Match(match_) => self.lower_match(match_, cont, cur),
            Expr::Block(block) => Construct::Block(self.lower_block(block.block, cont, cur)),
            Expr::Loop(loop_) => {
                self.lower_loop(loop_.label, LoopSyntax::Loop, loop_.body, cont, cur)
            }
            Expr::While(while_) => self.lower_loop(
                while_.label,
                LoopSyntax::While(while_.cond),
                while_.body,
                cont,
                cur,
            ),
            Expr::ForLoop(for_) => self.lower_loop(
                for_.label,
                LoopSyntax::For(for_.pat, for_.expr),
                for_.body,
                cont,
                cur,
            ),
            other => {
                self.cx
                    .error_spanned_by(&other, "cairn cannot lower this expression");
                Construct::Block(self.lower_block(syn::parse_quote!({}), cont, cur))
            }
        }
    }

    fn lower_if(&mut self, mut if_: syn::ExprIf, cont: Cont, cur: Option<NodeId>) -> Construct {
        let usage = scope::analyze_expr(&mut if_.cond, &self.scopes, self.body.jumps.next_id());
        let cond = self.node(usage.reads, BTreeSet::new());
        self.edge(cur, cond);
        let scopes = self.scopes.clone();
        for jump in usage.jumps {
            self.jump(jump, cond, &scopes);
        }

        self.scopes.push();
        let mut bound = Vec::new();
        for pat in let_patterns(&if_.cond) {
            bound.extend(self.declare_pattern(pat, None, false));
        }
        let then_entry = self.node(BTreeSet::new(), bound.into_iter().collect());
        self.edge(Some(cond), then_entry);
        let then = self.lower_block(if_.then_branch, cont.clone(), Some(then_entry));
        self.scopes.pop();

        let els = match if_.else_branch {
            Some((_, else_branch)) => {
                let block = match *else_branch {
                    Expr::Block(block) => block.block,
                    other => syn::Block {
                        brace_token: Default::default(),
                        stmts: vec![SynStmt::Expr(other, None)],
                    },
                };
                Ok(self.lower_block(block, cont.clone(), Some(cond)))
            }
            None => Err(self.deliver(&cont, Some(cond), if_.if_token.span)),
        };
        Construct::If {
            cond: if_.cond,
            then,
            els,
            cont,
        }
    }

    fn lower_match(
        &mut self,
        mut match_: syn::ExprMatch,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> Construct {
        let usage = scope::analyze_expr(&mut match_.expr, &self.scopes, self.body.jumps.next_id());
        let scrutinee = self.node(usage.reads, BTreeSet::new());
        self.edge(cur, scrutinee);
        let mut arms = Vec::new();
        for mut arm in match_.arms {
            self.scopes.push();
            let bound = self.declare_pattern(&arm.pat, None, false);
            let mut reads = BTreeSet::new();
            if let Some((_, guard)) = &mut arm.guard {
                reads = scope::analyze_expr(guard, &self.scopes, self.body.jumps.next_id()).reads;
            }
            // The pattern binds before the guard reads.
            let bind = self.node(BTreeSet::new(), bound.into_iter().collect());
            self.edge(Some(scrutinee), bind);
            let entry = self.node(reads, BTreeSet::new());
            self.edge(Some(bind), entry);
            let body = std::mem::replace(&mut *arm.body, Expr::Verbatim(Default::default()));
            let block = match body {
                Expr::Block(block) if block.label.is_none() => block.block,
                other => syn::Block {
                    brace_token: Default::default(),
                    stmts: vec![SynStmt::Expr(other, None)],
                },
            };
            let block = self.lower_block(block, cont.clone(), Some(entry));
            self.scopes.pop();
            arms.push((arm, block));
        }
        Construct::Match {
            expr: match_.expr,
            arms,
        }
    }

    fn lower_loop(
        &mut self,
        label: Option<syn::Label>,
        syntax: LoopSyntax,
        body: syn::Block,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> Construct {
        let id = self.body.loops.next_id();
        let span = body.brace_token.span.open();
        self.scopes.push();

        // A `for` loop's iterator is a variable of the workflow: it is part of the state.
        let (kind, head_name, what, init) = match syntax {
            LoopSyntax::For(pat, mut expr) => {
                let usage = scope::analyze_expr(&mut expr, &self.scopes, self.body.jumps.next_id());
                let name = match &*pat {
                    Pat::Ident(ident) => ident.ident.to_string(),
                    _ => "item".to_owned(),
                };
                let iter_ident =
                    format_ident!("__iter_{}", names::snake(&name), span = Span::mixed_site());
                let iter = self.new_var(iter_ident, true, None, false);
                self.body.vars[iter].check_span = None;
                self.declare(&[iter]);
                let init = self.node(usage.reads, [iter].into_iter().collect());
                self.edge(cur, init);
                let head_name = format!("For{}", names::pascal(&name));
                (
                    LoopKind::For { pat, iter, expr },
                    head_name,
                    "`for` loop",
                    Some(init),
                )
            }
            LoopSyntax::While(cond) => (
                LoopKind::While(cond),
                "While".to_owned(),
                "`while` loop",
                cur,
            ),
            LoopSyntax::Loop => (LoopKind::Loop, "Loop".to_owned(), "`loop`", cur),
        };
        let head = self.new_state(
            Some(&head_name),
            StateKind::LoopHead,
            None,
            format!("The head of the {what}{}. Not stored.", line_suffix(span)),
            Entry::LoopHead(id),
            None,
        );
        let head_node = self.state_node(head);
        self.edge(init, head_node);
        let entry_site = self.site(span, Vec::new());
        self.body.transitions.push((head, entry_site));

        // The body is the next block lowered (below).
        let body_block = self.body.blocks.next_id();
        self.body.loops.push(Loop {
            label,
            kind,
            body: body_block,
            head,
            cont: cont.clone(),
        });

        let mut reads = BTreeSet::new();
        let mut bound_pats: Vec<Pat> = Vec::new();
        match &mut self.body.loops[id].kind {
            LoopKind::For { pat, iter, .. } => {
                reads.insert(*iter);
                bound_pats.push((**pat).clone());
            }
            LoopKind::While(cond) => {
                let mut cond_copy = (**cond).clone();
                let usage =
                    scope::analyze_expr(&mut cond_copy, &self.scopes, self.body.jumps.next_id());
                reads = usage.reads;
                bound_pats.extend(let_patterns(&cond_copy).into_iter().cloned());
                **cond = cond_copy;
            }
            LoopKind::Loop => {}
        }
        let test = self.node(reads, BTreeSet::new());
        self.edge(Some(head_node), test);

        self.loop_stack.push(id);
        self.scopes.push();
        let mut bound = BTreeSet::new();
        for pat in &bound_pats {
            bound.extend(self.declare_pattern(pat, None, false));
        }
        let body_entry = self.node(BTreeSet::new(), bound);
        self.edge(Some(test), body_entry);
        let body = self.lower_block(
            body,
            Cont {
                out: Out::Discard,
                next: Some(head),
            },
            Some(body_entry),
        );
        self.scopes.pop();
        self.loop_stack.pop();
        debug_assert!(body == body_block);

        if !matches!(self.body.loops[id].kind, LoopKind::Loop) {
            self.deliver(&cont, Some(test), span);
        }
        self.scopes.pop();
        Construct::Loop(id)
    }

    /// A `break` or `continue` in ordinary code, going to a lowered loop.
    fn jump(&mut self, jump: scope::Jump, from: NodeId, scopes: &Scopes) {
        let target = match &jump.label {
            Some(label) => self.loop_stack.iter().rev().copied().find(|&id| {
                self.body.loops[id]
                    .label
                    .as_ref()
                    .is_some_and(|l| l.name.ident == label.ident)
            }),
            None => self.loop_stack.last().copied(),
        };
        let Some(target) = target else {
            self.cx.syn_error(syn::Error::new(
                jump.span,
                "this `break` or `continue` has no loop to go to in the workflow",
            ));
            self.body.jumps.push(Jump {
                target: None,
                is_break: jump.is_break,
                value: jump.value,
                site: Site {
                    scopes: scopes.clone(),
                    hidden: jump.inner_names,
                    span: jump.span,
                },
            });
            return;
        };
        let site = if jump.is_break {
            let cont = self.body.loops[target].cont.clone();
            self.deliver_with(&cont, Some(from), jump.span, scopes, &jump.inner_names)
        } else {
            let head = self.body.loops[target].head;
            let head_node = self.state_node(head);
            self.edge(Some(from), head_node);
            let site = Site {
                scopes: scopes.clone(),
                hidden: jump.inner_names.clone(),
                span: jump.span,
            };
            self.body.transitions.push((head, site.clone()));
            site
        };
        self.body.jumps.push(Jump {
            target: Some(target),
            is_break: jump.is_break,
            value: jump.value,
            site,
        });
    }

    /// Delivers a value to `cont.out` and goes to `cont.next`: the end of a path.
    fn deliver(&mut self, cont: &Cont, from: Option<NodeId>, span: Span) -> Site {
        let scopes = self.scopes.clone();
        self.deliver_with(cont, from, span, &scopes, &[])
    }

    fn deliver_with(
        &mut self,
        cont: &Cont,
        from: Option<NodeId>,
        span: Span,
        scopes: &Scopes,
        hidden: &[String],
    ) -> Site {
        let node = self.node(BTreeSet::new(), cont.out.vars().iter().copied().collect());
        self.edge(from, node);
        let mut scopes = scopes.clone();
        scopes.push();
        for &var in cont.out.vars() {
            scopes.declare(self.body.vars[var].ident.to_string(), var);
        }
        let site = Site {
            scopes,
            hidden: hidden.to_vec(),
            span,
        };
        if let Some(next) = cont.next {
            let next_node = self.state_node(next);
            self.edge(Some(node), next_node);
            if from.is_some() {
                self.body.transitions.push((next, site.clone()));
            }
        }
        site
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

enum LoopSyntax {
    Loop,
    While(Box<Expr>),
    For(Box<Pat>, Box<Expr>),
}

/// `FUTURE.await`, `FUTURE.await?`, or another form that consumes the outcome in place (see
/// [`await_expr`](crate::await_expr)).
pub fn is_await(expr: &Expr) -> bool {
    crate::await_expr::is_await(expr)
}

/// A control-flow construct with an await inside.
fn is_construct(expr: &Expr) -> bool {
    let construct = match expr {
        Expr::If(_) | Expr::Match(_) | Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => true,
        Expr::Block(block) => block.label.is_none(),
        _ => false,
    };
    construct && has_await(expr)
}

/// Whether the statement never completes normally: the code after it is not reached from it.
fn diverges(stmt: &SynStmt) -> bool {
    match stmt {
        SynStmt::Expr(expr, _) => diverges_expr(expr),
        _ => false,
    }
}

fn diverges_expr(expr: &Expr) -> bool {
    match expr {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(mac) => mac.mac.path.is_ident(scope::JUMP_PLACEHOLDER),
        _ => false,
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
pub fn line_suffix(span: Span) -> String {
    match span.start().line {
        0 => String::new(),
        line => format!(" (line {line})"),
    }
}
