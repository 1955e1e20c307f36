/// The durable workflow `deployment_approval`: register it with `Runtime::builder().register(deployment_approval)` and start runs with `client.start(deployment_approval, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
pub struct deployment_approval;
impl ::cairn::Workflow for deployment_approval {
    type Input = String;
    type Output = <Result<String, String> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "deployment_approval";
    const FINGERPRINT: u64 = 15309468232313373357u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        14171671803152309787u64,
    );
    const PARAMETERS: &'static [&'static str] = &["changes"];
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "deployment_approval",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["changes"],
                },
                ::cairn::StateNode {
                    name: "ValidateChanges",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("validate_changes"),
                    fields: &["plan"],
                },
                ::cairn::StateNode {
                    name: "WaitForUser",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("wait_for_user"),
                    fields: &["plan", "answer"],
                },
                ::cairn::StateNode {
                    name: "Sleep",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("sleep"),
                    fields: &["plan"],
                },
                ::cairn::StateNode {
                    name: "Deploy",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("deploy"),
                    fields: &["done"],
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
                    to: ::core::option::Option::None,
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
        async fn deployment_approval(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<String>,
        ) -> Result<String, String> {
            /// The states of workflow `deployment_approval`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum DeploymentApprovalState<T_plan, T_answer, T_done> {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { changes: String },
                /// After step `validate_changes` (line 5).
                ValidateChanges { plan: T_plan },
                /// After step `wait_for_user` (line 8).
                WaitForUser { plan: T_plan, answer: T_answer },
                /// After step `sleep` (line 12).
                Sleep { plan: T_plan },
                /// After step `deploy` (line 13).
                Deploy { done: T_done },
            }
            impl<T_plan, T_answer, T_done> ::cairn::__private::StateInfo
            for DeploymentApprovalState<T_plan, T_answer, T_done> {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::ValidateChanges { .. } => "ValidateChanges",
                        Self::WaitForUser { .. } => "WaitForUser",
                        Self::Sleep { .. } => "Sleep",
                        Self::Deploy { .. } => "Deploy",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::ValidateChanges { .. } => {
                            ::core::option::Option::Some("validate_changes")
                        }
                        Self::WaitForUser { .. } => {
                            ::core::option::Option::Some("wait_for_user")
                        }
                        Self::Sleep { .. } => ::core::option::Option::Some("sleep"),
                        Self::Deploy { .. } => ::core::option::Option::Some("deploy"),
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let changes: String = __input;
                    DeploymentApprovalState::Start {
                        changes,
                    }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    DeploymentApprovalState::Start { changes } => {
                        let plan = ctx
                            .__task(
                                "validate_changes",
                                (changes,),
                                |(__arg0,)| validate_changes(__arg0),
                            )
                            .await?;
                        __state = DeploymentApprovalState::ValidateChanges {
                            plan,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    DeploymentApprovalState::ValidateChanges { plan } => {
                        let question = Question::approval(
                                format!("Deploy {plan} to prod?"),
                            )
                            .timeout(
                                Duration::from_secs(7 * 24 * 3600),
                                Answer::Rejected,
                            );
                        let answer = ctx.wait_for_user(question).await?;
                        __state = DeploymentApprovalState::WaitForUser {
                            plan,
                            answer,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    DeploymentApprovalState::WaitForUser { plan, answer } => {
                        if !answer.is_approved() {
                            return Ok(format!("cancelled ({answer})"));
                        }
                        ctx.sleep(Duration::from_secs(60)).await?;
                        __state = DeploymentApprovalState::Sleep {
                            plan,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    DeploymentApprovalState::Sleep { plan } => {
                        let done = ctx
                            .__task("deploy", (plan,), |(__arg0,)| deploy(__arg0))
                            .await?;
                        __state = DeploymentApprovalState::Deploy {
                            done,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    DeploymentApprovalState::Deploy { done } => {
                        return Ok(done);
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
                        DeploymentApprovalState::Start { changes, .. } => {
                            ::cairn::__private::check_stored(
                                changes,
                                (&&&::cairn::__private::Probe::of(changes)).kind(),
                            );
                        }
                        DeploymentApprovalState::ValidateChanges { plan, .. } => {
                            ::cairn::__private::check_step_result(
                                plan,
                                (&&&::cairn::__private::Probe::of(plan)).kind(),
                            );
                        }
                        DeploymentApprovalState::WaitForUser { answer, .. } => {
                            ::cairn::__private::check_step_result(
                                answer,
                                (&&&::cairn::__private::Probe::of(answer)).kind(),
                            );
                        }
                        DeploymentApprovalState::Deploy { done, .. } => {
                            ::cairn::__private::check_step_result(
                                done,
                                (&&&::cairn::__private::Probe::of(done)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(
                deployment_approval(__ctx, __start).await,
            )
        })
    }
}
