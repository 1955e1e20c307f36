//! What `ctx.parallel` takes: [`Branch`]es made with [`step`], in a tuple (outputs in a tuple)
//! or a `Vec` (outputs in a `Vec`), each erased to a named future of its encoded output.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::missing_branch;
use crate::context::child::{ChildFuture, EnvCell, child_branch};
use crate::error::Error;
use crate::workflow::{BoxFuture, Workflow};

/// One branch of a [`Context::parallel`](crate::Context::parallel) call: a named step that does not borrow the context.
#[must_use = "a branch does nothing until it is passed to `ctx.parallel`"]
#[derive(Debug)]
pub struct Branch<F> {
    pub(super) name: String,
    pub(super) fut: F,
    /// Set for a [`child`] branch: where the call puts what the branch needs from it.
    pub(super) child: Option<EnvCell>,
}

impl<F> Branch<F> {
    /// The branch's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A branch named `name` that runs `fut`, for [`Context::parallel`](crate::Context::parallel).
pub fn step<F>(name: impl Into<String>, fut: F) -> Branch<F>
where
    F: Future,
{
    Branch {
        name: name.into(),
        fut,
        child: None,
    }
}

/// A branch that runs `workflow` with `input` as a child run, for
/// [`Context::parallel`](crate::Context::parallel): the parallel form of
/// [`Context::child`](crate::Context::child), one child per branch, named after the workflow.
/// While children run, the parent holds no task: the call parks the run once every branch
/// still running waits for a child, and it resumes when they have all finished (the outputs
/// of the branches done by then are committed and not run again).
///
/// ```ignore
/// let (a, b) = ctx.parallel((child(ship, order), child(invoice, order))).await?;
/// let all = ctx.parallel(items.into_iter().map(|i| child(pack, i)).collect::<Vec<_>>()).await?;
/// ```
///
/// The branch's error type is [`Error`]: a child that failed is [`Error::ChildFailed`].
pub fn child<W: Workflow>(workflow: W, input: W::Input) -> Branch<ChildFuture<W>> {
    let _ = workflow;
    let (cell, fut) = child_branch::<W>(input);
    Branch {
        name: W::NAME.to_owned(),
        fut,
        child: Some(cell),
    }
}

/// One branch erased: its name, its future (whose output is the bytes of its `Ok` value as
/// stored, see [`crate::codec`], or its error), and for a [`child`] branch where to put what
/// it needs from the call.
pub(crate) type Erased<'a, E> = (String, BoxFuture<'a, Result<Vec<u8>, E>>, Option<EnvCell>);

/// A set of branches: a tuple of [`Branch`]es or a `Vec` of them. Implemented by the runtime;
/// not meant to be implemented elsewhere.
pub trait Branches: Send {
    /// The error type shared by every branch.
    type Error;
    /// What the call returns on success: the `Ok` values, shaped like the branches.
    type Output;
    /// Per-branch outcomes, shaped like the branches.
    type Settled;
    #[doc(hidden)]
    fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, Self::Error>>
    where
        Self: 'a;
    #[doc(hidden)]
    fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Self::Output, String>;
    #[doc(hidden)]
    fn __assemble_settled(
        outcomes: Vec<Result<Vec<u8>, Self::Error>>,
    ) -> Result<Self::Settled, String>;
}

fn erase<'a, F, T, E>(workflow: &'static str, branch: Branch<F>) -> Erased<'a, E>
where
    F: Future<Output = Result<T, E>> + Send + 'a,
    T: Serialize + DeserializeOwned,
    E: From<Error>,
{
    let name = branch.name;
    let branch_name = name.clone();
    let fut = branch.fut;
    (
        name,
        Box::pin(async move {
            let value = fut.await?;
            crate::codec::encode(&value).map_err(|e| {
                E::from(e.into_error(
                    workflow,
                    format_args!("the output of parallel branch `{branch_name}`"),
                ))
            })
        }),
        branch.child,
    )
}

impl<F, T, E> Branches for Vec<Branch<F>>
where
    F: Future<Output = Result<T, E>> + Send,
    T: Serialize + DeserializeOwned,
    E: From<Error>,
{
    type Error = E;
    type Output = Vec<T>;
    type Settled = Vec<Result<T, E>>;

    fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, E>>
    where
        Self: 'a,
    {
        self.into_iter()
            .map(|branch| erase(workflow, branch))
            .collect()
    }

    fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Vec<T>, String> {
        outputs
            .iter()
            .map(|bytes| crate::codec::decode(bytes))
            .collect()
    }

    fn __assemble_settled(outcomes: Vec<Result<Vec<u8>, E>>) -> Result<Vec<Result<T, E>>, String> {
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(bytes) => crate::codec::decode(&bytes).map(Ok),
                Err(error) => Ok(Err(error)),
            })
            .collect()
    }
}

macro_rules! tuple_branches {
    ($($F:ident $T:ident $i:tt),+) => {
        impl<E, $($F, $T),+> Branches for ($(Branch<$F>,)+)
        where
            E: From<Error>,
            $($F: Future<Output = Result<$T, E>> + Send, $T: Serialize + DeserializeOwned,)+
        {
            type Error = E;
            type Output = ($($T,)+);
            type Settled = ($(Result<$T, E>,)+);

            fn __erase<'a>(self, workflow: &'static str) -> Vec<Erased<'a, E>>
            where
                Self: 'a,
            {
                vec![$(erase(workflow, self.$i)),+]
            }

            fn __assemble(outputs: Vec<Vec<u8>>) -> Result<Self::Output, String> {
                Ok(($(crate::codec::decode::<$T>(
                    outputs.get($i).ok_or_else(missing_branch)?,
                )?,)+))
            }

            fn __assemble_settled(
                outcomes: Vec<Result<Vec<u8>, E>>,
            ) -> Result<Self::Settled, String> {
                let mut outcomes = outcomes.into_iter();
                Ok(($(
                    match outcomes.next().ok_or_else(missing_branch)? {
                        Ok(bytes) => Ok(crate::codec::decode::<$T>(&bytes)?),
                        Err(error) => Err(error),
                    },
                )+))
            }
        }
    };
}

tuple_branches!(F0 T0 0);
tuple_branches!(F0 T0 0, F1 T1 1);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5, F6 T6 6);
tuple_branches!(F0 T0 0, F1 T1 1, F2 T2 2, F3 T3 3, F4 T4 4, F5 T5 5, F6 T6 6, F7 T7 7);
