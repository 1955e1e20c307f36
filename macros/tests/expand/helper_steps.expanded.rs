/// The durable workflow `uses_one_step`: register it with `Runtime::builder().register(uses_one_step)` and start runs with `client.start(uses_one_step, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct uses_one_step;
impl ::cairn::Workflow for uses_one_step {
    type Input = u64;
    type Output = <Result<u64, String> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "uses_one_step";
    const FINGERPRINT: u64 = 14677821859916671183u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        7900491294843920077u64,
    );
    const PARAMETERS: &'static [&'static str] = &["n"];
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "uses_one_step",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["n"],
                },
                ::cairn::StateNode {
                    name: "ForI",
                    kind: ::cairn::StateKind::LoopHead,
                    step: ::core::option::Option::None,
                    fields: &["total", "__iter_i"],
                },
                ::cairn::StateNode {
                    name: "OneStep",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("one_step"),
                    fields: &["total", "__iter_i", "__one_step"],
                },
                ::cairn::StateNode {
                    name: "AfterForI",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["total"],
                },
                ::cairn::StateNode {
                    name: "Double",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("double"),
                    fields: &["doubled"],
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
                    from: 1usize,
                    to: ::core::option::Option::Some(3usize),
                },
                ::cairn::StateEdge {
                    from: 2usize,
                    to: ::core::option::Option::Some(1usize),
                },
                ::cairn::StateEdge {
                    from: 3usize,
                    to: ::core::option::Option::Some(4usize),
                },
                ::cairn::StateEdge {
                    from: 4usize,
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
        async fn uses_one_step(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<u64>,
        ) -> Result<u64, String> {
            /// The states of workflow `uses_one_step`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum UsesOneStepState<T_total, T_iter_i, T_one_step, T_doubled> {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { n: u64 },
                /// The head of the `for` loop (line 6). Not stored.
                ForI { total: T_total, __iter_i: T_iter_i },
                /// After step `one_step` (line 7).
                OneStep { total: T_total, __iter_i: T_iter_i, __one_step: T_one_step },
                /// After the loop (line 6). Not stored.
                AfterForI { total: T_total },
                /// After step `double` (line 10).
                Double { doubled: T_doubled },
            }
            impl<T_total, T_iter_i, T_one_step, T_doubled> ::cairn::__private::StateInfo
            for UsesOneStepState<T_total, T_iter_i, T_one_step, T_doubled> {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::ForI { .. } => "ForI",
                        Self::OneStep { .. } => "OneStep",
                        Self::AfterForI { .. } => "AfterForI",
                        Self::Double { .. } => "Double",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::OneStep { .. } => ::core::option::Option::Some("one_step"),
                        Self::Double { .. } => ::core::option::Option::Some("double"),
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let n: u64 = __input;
                    UsesOneStepState::Start { n }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    UsesOneStepState::Start { n } => {
                        let mut total = 0;
                        let mut __iter_i = {
                            #[allow(unused_imports)]
                            use ::cairn::__private::{
                                ProbeBorrowed as _, ProbeBorrowedCollection as _,
                                ProbeCollected as _, ProbeEndless as _, ProbeKnown as _,
                                ProbeNotIterable as _, ProbeUnstorable as _,
                            };
                            let __cairn_source = 0..n;
                            let __cairn_kind = (&&&&&&&::cairn::__private::LoopProbe::of(
                                &__cairn_source,
                            ))
                                .loop_kind();
                            ctx.__durable_iter(
                                    __cairn_source,
                                    __cairn_kind,
                                    " at line 6",
                                )
                                .await
                        };
                        __state = UsesOneStepState::ForI {
                            total,
                            __iter_i,
                        };
                        continue '__cairn;
                    }
                    UsesOneStepState::ForI { mut total, mut __iter_i } => {
                        match ctx.__iter_next(&mut __iter_i).await {
                            ::core::option::Option::Some(i) => {
                                let __one_step = one_step(ctx, i).await?;
                                __state = UsesOneStepState::OneStep {
                                    total,
                                    __iter_i,
                                    __one_step,
                                };
                                ctx.__checkpoint(&__codec, &__state).await;
                                continue '__cairn;
                            }
                            ::core::option::Option::None => {
                                __state = UsesOneStepState::AfterForI {
                                    total,
                                };
                                continue '__cairn;
                            }
                        }
                    }
                    UsesOneStepState::OneStep {
                        mut total,
                        mut __iter_i,
                        __one_step,
                    } => {
                        total += __one_step;
                        ctx.state().set("total", &total)?;
                        __state = UsesOneStepState::ForI {
                            total,
                            __iter_i,
                        };
                        continue '__cairn;
                    }
                    UsesOneStepState::AfterForI { mut total } => {
                        let doubled = ctx
                            .__task("double", (total,), |(__arg0,)| double(__arg0))
                            .await?;
                        __state = UsesOneStepState::Double {
                            doubled,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    UsesOneStepState::Double { doubled } => {
                        return Ok(doubled);
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
                        UsesOneStepState::Start { n, .. } => {
                            ::cairn::__private::check_stored(
                                n,
                                (&&&::cairn::__private::Probe::of(n)).kind(),
                            );
                        }
                        UsesOneStepState::ForI { total, .. } => {
                            ::cairn::__private::check_stored(
                                total,
                                (&&&::cairn::__private::Probe::of(total)).kind(),
                            );
                        }
                        UsesOneStepState::OneStep { __one_step, .. } => {
                            ::cairn::__private::check_step_result(
                                __one_step,
                                (&&&::cairn::__private::Probe::of(__one_step)).kind(),
                            );
                        }
                        UsesOneStepState::Double { doubled, .. } => {
                            ::cairn::__private::check_step_result(
                                doubled,
                                (&&&::cairn::__private::Probe::of(doubled)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(
                uses_one_step(__ctx, __start).await,
            )
        })
    }
}
