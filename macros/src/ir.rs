//! The lowered form of a workflow body: blocks of statements, where a statement is ordinary
//! code, an await (which ends in a persisted state) or a construct whose blocks hold awaits,
//! plus the states and the control-flow graph the liveness pass runs over.
//!
//! Everything refers to everything else by index into the [`Body`] tables, so the passes can
//! share it without lifetimes.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use syn::{Expr, Pat, Type};

pub use crate::ids::{BlockId, JumpId, LoopId, NodeId, StateId, Table, VarId};
use crate::scope::Scopes;

/// A variable of the workflow: a parameter, a `let` binding, a loop pattern binding, or one the
/// expansion made (a hoisted await, a loop's durable iterator).
pub struct Var {
    pub ident: Ident,
    /// The type the user wrote, when it names the variable alone (`let x: T`).
    pub ty: Option<Type>,
    pub mutable: bool,
    pub is_param: bool,
    /// Where an error about storing the variable points; `None` for the durable iterators,
    /// whose own trait bound reports a loop that cannot be stored.
    pub check_span: Option<Span>,
    /// Bound by the `let` of an await: an error about storing it talks about the step's result.
    pub step_result: bool,
}

/// Where a construct's value goes, and what runs next.
#[derive(Clone)]
pub struct Cont {
    pub out: Out,
    /// The state to go to; `None` when `out` is [`Out::Return`] and the run ends.
    pub next: Option<StateId>,
}

/// Where a value is delivered.
#[derive(Clone)]
pub enum Out {
    /// Evaluated and dropped.
    Discard,
    /// Bound by the pattern of the `let` the construct initializes.
    Bind { pat: Box<Pat>, vars: Vec<VarId> },
    /// Returned from the workflow.
    Return,
}

impl Out {
    pub fn vars(&self) -> &[VarId] {
        match self {
            Out::Bind { vars, .. } => vars,
            _ => &[],
        }
    }
}

pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Tail>,
    /// What happens when control reaches the end of the block.
    pub cont: Cont,
    /// Whether control can reach the end (the last statement does not diverge).
    pub end_reachable: bool,
}

pub enum Tail {
    Plain(Box<Expr>),
    Construct(Box<Construct>),
}

pub enum Stmt {
    /// Await-free code, with its `break`/`continue` out of it replaced by placeholders.
    Plain {
        stmt: syn::Stmt,
        assigns: BTreeSet<VarId>,
    },
    /// `let PAT = FUTURE.await?;` or `FUTURE.await?;`, followed by a persisted state.
    Await {
        stmt: syn::Stmt,
        state: StateId,
    },
    Construct(Construct),
}

pub enum Construct {
    If {
        cond: Box<Expr>,
        then: BlockId,
        /// `None`: the missing `else` delivers `()`, at this site.
        els: Result<BlockId, Site>,
        cont: Cont,
    },
    Match {
        expr: Box<Expr>,
        arms: Vec<(syn::Arm, BlockId)>,
    },
    Block(BlockId),
    Loop(LoopId),
}

pub struct Loop {
    pub label: Option<syn::Label>,
    pub kind: LoopKind,
    pub body: BlockId,
    pub head: StateId,
    pub cont: Cont,
}

pub enum LoopKind {
    Loop,
    While(Box<Expr>),
    For {
        pat: Box<Pat>,
        iter: VarId,
        expr: Box<Expr>,
    },
}

/// A `break` or `continue` from ordinary code to a lowered loop.
pub struct Jump {
    /// `None` when no lowered loop encloses the jump: an error, so no code is generated.
    pub target: Option<LoopId>,
    pub is_break: bool,
    pub value: Option<Expr>,
    pub site: Site,
}

/// A place where a transition is written, with the names visible there: every variable the
/// target state holds must be reachable by its name at that point.
#[derive(Clone)]
pub struct Site {
    pub scopes: Scopes,
    /// Names declared by ordinary code around a jump, which hide outer variables.
    pub hidden: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// The run's start, holding its inputs; never stored (the input is).
    Start,
    /// After an await: stored.
    Await,
    /// Where the paths of an `if`, `match` or block meet, or after a loop: not stored.
    Join,
    /// The top of a loop with awaits inside: not stored.
    LoopHead,
}

pub struct State {
    pub name: Ident,
    pub kind: StateKind,
    pub step: Option<String>,
    pub doc: String,
    /// The point of the control-flow graph the state stands for.
    pub node: NodeId,
    /// Where its code starts.
    pub entry: Entry,
    /// Position of its arm in the driver, in source order.
    pub order: usize,
    /// The variables visible where it starts.
    pub scopes: Scopes,
    /// Filled by the liveness pass: the variables the state holds.
    pub fields: Vec<VarId>,
}

impl State {
    pub fn is_stored(&self) -> bool {
        self.kind == StateKind::Await
    }
}

#[derive(Clone, Copy)]
pub enum Entry {
    /// At statement `index` of `block`.
    Block { block: BlockId, index: usize },
    /// At the head of a loop.
    LoopHead(LoopId),
}

/// A node of the control-flow graph: the variables it reads before writing, and those it writes.
#[derive(Default)]
pub struct Node {
    pub reads: BTreeSet<VarId>,
    pub defs: BTreeSet<VarId>,
    pub succ: Vec<NodeId>,
}

#[derive(Default)]
pub struct Body {
    pub vars: Table<VarId, Var>,
    pub blocks: Table<BlockId, Block>,
    pub states: Table<StateId, State>,
    pub loops: Table<LoopId, Loop>,
    pub jumps: Table<JumpId, Jump>,
    pub nodes: Table<NodeId, Node>,
    /// Items declared in the body, moved to the top of the driver.
    pub items: Vec<syn::Item>,
    /// Every transition site with its target, for the visibility check after liveness.
    pub transitions: Vec<(StateId, Site)>,
}
