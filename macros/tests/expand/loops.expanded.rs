/// Retries until a poll succeeds, then processes a batch with labeled loops.
///
/// The durable workflow `billing.retry`: register it with `Runtime::builder().register(retry)` and start runs with `client.start(retry, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct retry;
impl ::cairn::Workflow for retry {
    type Input = Vec<u32>;
    type Output = <Result<u32, Error> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "billing.retry";
    const FINGERPRINT: u64 = 17978759640613648209u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        15851574437682101721u64,
    );
    const PARAMETERS: &'static [&'static str] = &["batch"];
    const VERSION: u32 = 2u32;
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "billing.retry",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["batch"],
                },
                ::cairn::StateNode {
                    name: "Loop",
                    kind: ::cairn::StateKind::LoopHead,
                    step: ::core::option::Option::None,
                    fields: &["batch", "attempts"],
                },
                ::cairn::StateNode {
                    name: "Poll",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("poll"),
                    fields: &["batch", "attempts", "__poll"],
                },
                ::cairn::StateNode {
                    name: "AfterLoop",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["batch", "ready"],
                },
                ::cairn::StateNode {
                    name: "ForItem",
                    kind: ::cairn::StateKind::LoopHead,
                    step: ::core::option::Option::None,
                    fields: &["ready", "done", "__iter_item"],
                },
                ::cairn::StateNode {
                    name: "While",
                    kind: ::cairn::StateKind::LoopHead,
                    step: ::core::option::Option::None,
                    fields: &["ready", "done", "__iter_item", "item"],
                },
                ::cairn::StateNode {
                    name: "Process",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("process"),
                    fields: &["ready", "done", "__iter_item", "item", "__process"],
                },
                ::cairn::StateNode {
                    name: "AfterForItem",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["ready", "done"],
                },
            ],
            edges: &[
                ::cairn::StateEdge {
                    from: 0usize,
                    to: ::core::option::Option::Some(1usize),
                },
                ::cairn::StateEdge {
                    from: 1usize,
                    to: ::core::option::Option::Some(2usize),
                },
                ::cairn::StateEdge {
                    from: 2usize,
                    to: ::core::option::Option::Some(1usize),
                },
                ::cairn::StateEdge {
                    from: 2usize,
                    to: ::core::option::Option::Some(3usize),
                },
                ::cairn::StateEdge {
                    from: 3usize,
                    to: ::core::option::Option::Some(4usize),
                },
                ::cairn::StateEdge {
                    from: 4usize,
                    to: ::core::option::Option::Some(5usize),
                },
                ::cairn::StateEdge {
                    from: 4usize,
                    to: ::core::option::Option::Some(7usize),
                },
                ::cairn::StateEdge {
                    from: 5usize,
                    to: ::core::option::Option::Some(4usize),
                },
                ::cairn::StateEdge {
                    from: 5usize,
                    to: ::core::option::Option::Some(6usize),
                },
                ::cairn::StateEdge {
                    from: 6usize,
                    to: ::core::option::Option::Some(5usize),
                },
                ::cairn::StateEdge {
                    from: 7usize,
                    to: ::core::option::Option::None,
                },
            ],
        };
        &GRAPH
    }
    fn drive<'cairn>(
        __ctx: &'cairn mut ::cairn::Context,
        __start: ::cairn::__private::Start<Self::Input>,
    ) -> ::cairn::__private::BoxFuture<
        'cairn,
        ::core::result::Result<Self::Output, ::std::string::String>,
    > {
        #[allow(unused_mut)]
        async fn retry(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<Vec<u32>>,
        ) -> Result<u32, Error> {
            /// The states of workflow `retry`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum RetryState<
                T_attempts,
                T_ready,
                T_poll,
                T_done,
                T_iter_item,
                T_item,
                T_process,
            > {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { batch: Vec<u32> },
                /// The head of the `loop` (line 5). Not stored.
                Loop { batch: Vec<u32>, attempts: T_attempts },
                /// After step `poll` (line 7).
                Poll { batch: Vec<u32>, attempts: T_attempts, __poll: T_poll },
                /// After the loop (line 5). Not stored.
                AfterLoop { batch: Vec<u32>, ready: T_ready },
                /// The head of the `for` loop (line 15). Not stored.
                ForItem { ready: T_ready, done: T_done, __iter_item: T_iter_item },
                /// The head of the `while` loop (line 16). Not stored.
                While {
                    ready: T_ready,
                    done: T_done,
                    __iter_item: T_iter_item,
                    item: T_item,
                },
                /// After step `process` (line 20).
                Process {
                    ready: T_ready,
                    done: T_done,
                    __iter_item: T_iter_item,
                    item: T_item,
                    __process: T_process,
                },
                /// After the loop (line 15). Not stored.
                AfterForItem { ready: T_ready, done: T_done },
            }
            impl<
                T_attempts,
                T_ready,
                T_poll,
                T_done,
                T_iter_item,
                T_item,
                T_process,
            > ::cairn::__private::StateInfo
            for RetryState<
                T_attempts,
                T_ready,
                T_poll,
                T_done,
                T_iter_item,
                T_item,
                T_process,
            > {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::Loop { .. } => "Loop",
                        Self::Poll { .. } => "Poll",
                        Self::AfterLoop { .. } => "AfterLoop",
                        Self::ForItem { .. } => "ForItem",
                        Self::While { .. } => "While",
                        Self::Process { .. } => "Process",
                        Self::AfterForItem { .. } => "AfterForItem",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::Poll { .. } => ::core::option::Option::Some("poll"),
                        Self::Process { .. } => ::core::option::Option::Some("process"),
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let batch: Vec<u32> = __input;
                    RetryState::Start { batch }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    RetryState::Start { batch } => {
                        let mut attempts = 0;
                        __state = RetryState::Loop {
                            batch,
                            attempts,
                        };
                        continue '__cairn;
                    }
                    RetryState::Loop { batch, mut attempts } => {
                        attempts += 1;
                        let __poll = ctx
                            .__task("poll", (attempts,), |(__arg0,)| poll(__arg0))
                            .await?;
                        __state = RetryState::Poll {
                            batch,
                            attempts,
                            __poll,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    RetryState::Poll { batch, mut attempts, __poll } => {
                        if __poll {
                            {
                                let ready = true;
                                __state = RetryState::AfterLoop {
                                    batch,
                                    ready,
                                };
                                continue '__cairn;
                            };
                        }
                        if attempts == 5 {
                            {
                                let ready = false;
                                __state = RetryState::AfterLoop {
                                    batch,
                                    ready,
                                };
                                continue '__cairn;
                            };
                        }
                        __state = RetryState::Loop {
                            batch,
                            attempts,
                        };
                        continue '__cairn;
                    }
                    RetryState::AfterLoop { batch, ready } => {
                        let mut done = 0;
                        let mut __iter_item = {
                            #[allow(unused_imports)]
                            use ::cairn::__private::{
                                ProbeBorrowed as _, ProbeBorrowedCollection as _,
                                ProbeCollected as _, ProbeEndless as _, ProbeKnown as _,
                                ProbeNotIterable as _, ProbeUnstorable as _,
                            };
                            let __cairn_source = batch;
                            let __cairn_kind = (&&&&&&&::cairn::__private::LoopProbe::of(
                                &__cairn_source,
                            ))
                                .loop_kind();
                            ctx.__durable_iter(
                                    __cairn_source,
                                    __cairn_kind,
                                    " at line 15",
                                )
                                .await
                        };
                        __state = RetryState::ForItem {
                            ready,
                            done,
                            __iter_item,
                        };
                        continue '__cairn;
                    }
                    RetryState::ForItem { ready, mut done, mut __iter_item } => {
                        match ctx.__iter_next(&mut __iter_item).await {
                            ::core::option::Option::Some(item) => {
                                __state = RetryState::While {
                                    ready,
                                    done,
                                    __iter_item,
                                    item,
                                };
                                continue '__cairn;
                            }
                            ::core::option::Option::None => {
                                __state = RetryState::AfterForItem {
                                    ready,
                                    done,
                                };
                                continue '__cairn;
                            }
                        }
                    }
                    RetryState::While { ready, mut done, mut __iter_item, item } => {
                        if done < item {
                            if item == 13 {
                                {
                                    __state = RetryState::ForItem {
                                        ready,
                                        done,
                                        __iter_item,
                                    };
                                    continue '__cairn;
                                };
                            }
                            let __process = ctx
                                .__task("process", (item,), |(__arg0,)| process(__arg0))
                                .await?;
                            __state = RetryState::Process {
                                ready,
                                done,
                                __iter_item,
                                item,
                                __process,
                            };
                            ctx.__checkpoint(&__codec, &__state).await;
                            continue '__cairn;
                        } else {
                            __state = RetryState::ForItem {
                                ready,
                                done,
                                __iter_item,
                            };
                            continue '__cairn;
                        }
                    }
                    RetryState::Process {
                        ready,
                        mut done,
                        mut __iter_item,
                        item,
                        __process,
                    } => {
                        done += __process;
                        __state = RetryState::While {
                            ready,
                            done,
                            __iter_item,
                            item,
                        };
                        continue '__cairn;
                    }
                    RetryState::AfterForItem { ready, mut done } => {
                        return Ok(if ready { done } else { 0 });
                    }
                }
                #[allow(unreachable_code)]
                {
                    use ::cairn::__private::{
                        ProbeCodec as _, ProbeNoCodec as _, ProbeOther as _,
                        ProbeReference as _, ProbeSerializable as _,
                    };
                    ::cairn::__private::same_type(
                        &__codec,
                        &(&&::cairn::__private::Probe::of(&__state)).codec(),
                    );
                    match &__state {
                        RetryState::Start { batch, .. } => {
                            ::cairn::__private::check_stored(
                                batch,
                                (&&&::cairn::__private::Probe::of(batch)).kind(),
                            );
                        }
                        RetryState::Loop { attempts, .. } => {
                            ::cairn::__private::check_stored(
                                attempts,
                                (&&&::cairn::__private::Probe::of(attempts)).kind(),
                            );
                        }
                        RetryState::Poll { __poll, .. } => {
                            ::cairn::__private::check_step_result(
                                __poll,
                                (&&&::cairn::__private::Probe::of(__poll)).kind(),
                            );
                        }
                        RetryState::AfterLoop { ready, .. } => {
                            ::cairn::__private::check_stored(
                                ready,
                                (&&&::cairn::__private::Probe::of(ready)).kind(),
                            );
                        }
                        RetryState::ForItem { done, .. } => {
                            ::cairn::__private::check_stored(
                                done,
                                (&&&::cairn::__private::Probe::of(done)).kind(),
                            );
                        }
                        RetryState::While { item, .. } => {
                            ::cairn::__private::check_stored(
                                item,
                                (&&&::cairn::__private::Probe::of(item)).kind(),
                            );
                        }
                        RetryState::Process { __process, .. } => {
                            ::cairn::__private::check_step_result(
                                __process,
                                (&&&::cairn::__private::Probe::of(__process)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(retry(__ctx, __start).await)
        })
    }
}
