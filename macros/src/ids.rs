//! Typed indices into the tables of the lowered body ([`Body`](crate::ir::Body)), and the
//! [`Table`] they index, so that a state id can never be used to look up a variable.

use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// An index into a [`Table`].
pub trait Id: Copy {
    /// The id of the item at `index`. Ids come from [`Table::push`]; this is for numbers
    /// that travel through generated syntax (the jump placeholders of `scope`).
    fn new(index: usize) -> Self;
    fn index(self) -> usize;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(usize);

        impl Id for $name {
            fn new(index: usize) -> Self {
                $name(index)
            }
            fn index(self) -> usize {
                self.0
            }
        }
    )*};
}

ids! {
    /// A variable of the workflow ([`Var`](crate::ir::Var)).
    VarId;
    /// A block of the lowered body ([`Block`](crate::ir::Block)).
    BlockId;
    /// A state of the generated enum ([`State`](crate::ir::State)).
    StateId;
    /// A node of the control-flow graph ([`Node`](crate::ir::Node)).
    NodeId;
    /// A loop with an await inside ([`Loop`](crate::ir::Loop)).
    LoopId;
    /// A `break` or `continue` to such a loop from ordinary code ([`Jump`](crate::ir::Jump)).
    JumpId;
}

impl StateId {
    /// The run's start: always the first state made.
    pub const START: StateId = StateId(0);
}

/// A `Vec` indexed by its own kind of id.
pub struct Table<I, T> {
    items: Vec<T>,
    id: PhantomData<fn(I) -> I>,
}

impl<I: Id, T> Table<I, T> {
    /// Adds `item` and returns its id.
    pub fn push(&mut self, item: T) -> I {
        self.items.push(item);
        I::new(self.items.len() - 1)
    }

    /// The id the next [`push`](Self::push) returns.
    pub fn next_id(&self) -> I {
        I::new(self.items.len())
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Every id, in the order the items were pushed.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = I> + use<I, T> {
        (0..self.items.len()).map(I::new)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }
}

impl<I, T> Default for Table<I, T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            id: PhantomData,
        }
    }
}

impl<I: Id, T> Index<I> for Table<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> IndexMut<I> for Table<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<I, T> FromIterator<T> for Table<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(items: It) -> Self {
        Table {
            items: items.into_iter().collect(),
            id: PhantomData,
        }
    }
}

impl<'a, I, T> IntoIterator for &'a mut Table<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}
