//! The lowered form of a workflow body: blocks of statements, where a statement is ordinary
//! code, an await (which ends in a persisted state) or a construct whose blocks hold awaits,
//! plus the states and the control-flow graph the liveness pass runs over.
//!
//! Made by `lower`; `liveness` fills in the fields of each state; `expand` reads it and
//! changes nothing. Everything refers to everything else by a typed id into the [`Body`]
//! tables (see [`ids`](crate::ids)), so the passes can share it without lifetimes.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use syn::{Expr, Pat, Type};

pub use crate::ids::{BlockId, JumpId, LoopId, NodeId, StateId, Table, VarId};
use crate::scope::Scopes;

/// A variable of the workflow: a parameter, a `let` binding, a pattern binding, or one a pass
/// made (the temporary of a hoisted await, a `for` loop's durable iterator).
pub struct Var {
    pub ident: Ident,
    /// The type the user wrote, when it names the variable alone (`let x: T`).
    pub ty: Option<Type>,
    pub mutable: bool,
    /// A parameter of the fn after the context: the only variables the start state holds.
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

/// A block the lowering took apart: the fn body, or a block of a construct with an await inside.
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub tail: Option<Tail>,
    /// What happens when control reaches the end of the block.
    pub cont: Cont,
    /// Whether control can reach the end (the last statement does not diverge).
    pub end_reachable: bool,
}

/// The value expression at the end of a block.
pub enum Tail {
    Plain(Box<Expr>),
    Construct(Box<Construct>),
}

pub enum Stmt {
    /// Await-free code, with its `break`/`continue` out of it replaced by placeholders.
    Plain {
        stmt: syn::Stmt,
        /// The variables it assigns with `=`: an arm declares those its state does not hold.
        assigns: BTreeSet<VarId>,
    },
    /// `let PAT = AWAIT;` or `AWAIT;`, where `AWAIT` is an await with the code that consumes
    /// its outcome in place (see [`await_expr`](crate::await_expr)), followed by a stored state.
    Await {
        stmt: syn::Stmt,
        state: StateId,
    },
    Construct(Construct),
}

/// A control-flow construct with an await inside; its blocks end with its continuation.
pub enum Construct {
    If {
        cond: Box<Expr>,
        then: BlockId,
        /// `None`: there is no `else`, and a false condition delivers `()` to `cont`.
        els: Option<BlockId>,
        cont: Cont,
    },
    Match {
        expr: Box<Expr>,
        arms: Vec<(syn::Arm, BlockId)>,
    },
    Block(BlockId),
    Loop(LoopId),
}

/// A loop with an await inside.
pub struct Loop {
    /// For `break 'label` and `continue 'label` from the code inside.
    pub label: Option<syn::Label>,
    pub kind: LoopKind,
    pub body: BlockId,
    /// The transient state where each iteration starts.
    pub head: StateId,
    /// Where the loop's value goes (from `break value`, or `()` when a `while` or `for` ends).
    pub cont: Cont,
}

pub enum LoopKind {
    Loop,
    While(Box<Expr>),
    For {
        pat: Box<Pat>,
        /// The durable iterator over the items, a variable the states hold.
        iter: VarId,
        /// The expression iterated over, as written.
        expr: Box<Expr>,
    },
}

/// A `break` or `continue` from ordinary code to a lowered loop.
pub struct Jump {
    /// `None` when no lowered loop encloses the jump: an error, so no code is generated.
    pub target: Option<LoopId>,
    pub is_break: bool,
    /// The value of `break value`.
    pub value: Option<Expr>,
    /// Where the jump is written.
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

/// What a state stands for; only [`StateKind::Await`] states are stored.
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

/// A state of the generated enum, and of the driver's `match`.
pub struct State {
    /// The variant's name, after the step that leads to it (`FetchPapers`).
    pub name: Ident,
    pub kind: StateKind,
    /// The step awaited just before the state, for history and the graph.
    pub step: Option<String>,
    /// The variant's doc comment.
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

/// Where the code of a state's arm starts.
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

/// The lowered workflow body: every table the passes share.
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
    /// Every transition site with its target: the states reached (the others get no
    /// variant), and the check after liveness that each site can name what its target holds.
    pub transitions: Vec<(StateId, Site)>,
}
