/// The durable workflow `research_pipeline`: register it with `Runtime::builder().register(research_pipeline)` and start runs with `client.start(research_pipeline, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct research_pipeline;
impl ::cairn::Workflow for research_pipeline {
    type Input = String;
    type Output = <Result<
        Report,
        StepError,
    > as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "research_pipeline";
    const FINGERPRINT: u64 = 9611606782241770531u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        2193908789703599045u64,
    );
    const PARAMETERS: &'static [&'static str] = &["topic"];
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "research_pipeline",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["topic"],
                },
                ::cairn::StateNode {
                    name: "FetchPapers",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("fetch_papers"),
                    fields: &["topic", "papers"],
                },
                ::cairn::StateNode {
                    name: "ForPaper",
                    kind: ::cairn::StateKind::LoopHead,
                    step: ::core::option::Option::None,
                    fields: &["topic", "notes", "__iter_paper"],
                },
                ::cairn::StateNode {
                    name: "Analyze",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("analyze"),
                    fields: &["topic", "notes", "__iter_paper", "note"],
                },
                ::cairn::StateNode {
                    name: "AfterForPaper",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["topic", "notes"],
                },
                ::cairn::StateNode {
                    name: "Synthesize",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("synthesize"),
                    fields: &["summary"],
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
                    to: ::core::option::Option::Some(3usize),
                },
                ::cairn::StateEdge {
                    from: 2usize,
                    to: ::core::option::Option::Some(4usize),
                },
                ::cairn::StateEdge {
                    from: 3usize,
                    to: ::core::option::Option::Some(2usize),
                },
                ::cairn::StateEdge {
                    from: 4usize,
                    to: ::core::option::Option::Some(5usize),
                },
                ::cairn::StateEdge {
                    from: 5usize,
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
        async fn research_pipeline(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<String>,
        ) -> Result<Report, StepError> {
            /// The states of workflow `research_pipeline`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum ResearchPipelineState<
                T_papers,
                T_notes,
                T_iter_paper,
                T_note,
                T_summary,
            > {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { topic: String },
                /// After step `fetch_papers` (line 3).
                FetchPapers { topic: String, papers: T_papers },
                /// The head of the `for` loop (line 5). Not stored.
                ForPaper { topic: String, notes: T_notes, __iter_paper: T_iter_paper },
                /// After step `analyze` (line 6).
                Analyze {
                    topic: String,
                    notes: T_notes,
                    __iter_paper: T_iter_paper,
                    note: T_note,
                },
                /// After the loop (line 5). Not stored.
                AfterForPaper { topic: String, notes: T_notes },
                /// After step `synthesize` (line 9).
                Synthesize { summary: T_summary },
            }
            impl<
                T_papers,
                T_notes,
                T_iter_paper,
                T_note,
                T_summary,
            > ::cairn::__private::StateInfo
            for ResearchPipelineState<
                T_papers,
                T_notes,
                T_iter_paper,
                T_note,
                T_summary,
            > {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::FetchPapers { .. } => "FetchPapers",
                        Self::ForPaper { .. } => "ForPaper",
                        Self::Analyze { .. } => "Analyze",
                        Self::AfterForPaper { .. } => "AfterForPaper",
                        Self::Synthesize { .. } => "Synthesize",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::FetchPapers { .. } => {
                            ::core::option::Option::Some("fetch_papers")
                        }
                        Self::Analyze { .. } => ::core::option::Option::Some("analyze"),
                        Self::Synthesize { .. } => {
                            ::core::option::Option::Some("synthesize")
                        }
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let topic: String = __input;
                    ResearchPipelineState::Start {
                        topic,
                    }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    ResearchPipelineState::Start { topic } => {
                        let papers = ctx
                            .__task(
                                "fetch_papers",
                                (topic.clone(),),
                                |(__arg0,)| fetch_papers(__arg0),
                            )
                            .await?;
                        __state = ResearchPipelineState::FetchPapers {
                            topic,
                            papers,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    ResearchPipelineState::FetchPapers { topic, papers } => {
                        let mut notes = Vec::new();
                        let mut __iter_paper = {
                            #[allow(unused_imports)]
                            use ::cairn::__private::{
                                ProbeBorrowed as _, ProbeBorrowedCollection as _,
                                ProbeCollected as _, ProbeEndless as _, ProbeKnown as _,
                                ProbeNotIterable as _, ProbeUnstorable as _,
                            };
                            let __cairn_source = papers;
                            let __cairn_kind = (&&&&&&&::cairn::__private::LoopProbe::of(
                                &__cairn_source,
                            ))
                                .loop_kind();
                            ctx.__durable_iter(
                                    __cairn_source,
                                    __cairn_kind,
                                    " at line 5",
                                )
                                .await
                        };
                        __state = ResearchPipelineState::ForPaper {
                            topic,
                            notes,
                            __iter_paper,
                        };
                        continue '__cairn;
                    }
                    ResearchPipelineState::ForPaper {
                        topic,
                        mut notes,
                        mut __iter_paper,
                    } => {
                        match ctx.__iter_next(&mut __iter_paper).await {
                            ::core::option::Option::Some(paper) => {
                                let note = ctx
                                    .__task("analyze", (paper,), |(__arg0,)| analyze(__arg0))
                                    .await?;
                                __state = ResearchPipelineState::Analyze {
                                    topic,
                                    notes,
                                    __iter_paper,
                                    note,
                                };
                                ctx.__checkpoint(&__codec, &__state).await;
                                continue '__cairn;
                            }
                            ::core::option::Option::None => {
                                __state = ResearchPipelineState::AfterForPaper {
                                    topic,
                                    notes,
                                };
                                continue '__cairn;
                            }
                        }
                    }
                    ResearchPipelineState::Analyze {
                        topic,
                        mut notes,
                        mut __iter_paper,
                        note,
                    } => {
                        notes.push(note);
                        __state = ResearchPipelineState::ForPaper {
                            topic,
                            notes,
                            __iter_paper,
                        };
                        continue '__cairn;
                    }
                    ResearchPipelineState::AfterForPaper { topic, mut notes } => {
                        let summary = ctx
                            .step("synthesize", synthesize(topic, notes))
                            .await?;
                        __state = ResearchPipelineState::Synthesize {
                            summary,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    ResearchPipelineState::Synthesize { summary } => {
                        return Ok(Report { summary });
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
                        ResearchPipelineState::Start { topic, .. } => {
                            ::cairn::__private::check_stored(
                                topic,
                                (&&&::cairn::__private::Probe::of(topic)).kind(),
                            );
                        }
                        ResearchPipelineState::FetchPapers { papers, .. } => {
                            ::cairn::__private::check_step_result(
                                papers,
                                (&&&::cairn::__private::Probe::of(papers)).kind(),
                            );
                        }
                        ResearchPipelineState::ForPaper { notes, .. } => {
                            ::cairn::__private::check_stored(
                                notes,
                                (&&&::cairn::__private::Probe::of(notes)).kind(),
                            );
                        }
                        ResearchPipelineState::Analyze { note, .. } => {
                            ::cairn::__private::check_step_result(
                                note,
                                (&&&::cairn::__private::Probe::of(note)).kind(),
                            );
                        }
                        ResearchPipelineState::Synthesize { summary, .. } => {
                            ::cairn::__private::check_step_result(
                                summary,
                                (&&&::cairn::__private::Probe::of(summary)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(
                research_pipeline(__ctx, __start).await,
            )
        })
    }
}
