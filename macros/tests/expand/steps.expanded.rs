/// The durable workflow `checkout`: register it with `Runtime::builder().register(checkout)` and start runs with `client.start(checkout, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct checkout;
impl ::cairn::Workflow for checkout {
    type Input = (Card, String);
    type Output = <Result<String, String> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "checkout";
    const FINGERPRINT: u64 = 14950183561941393169u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        10233113296275610106u64,
    );
    const PARAMETERS: &'static [&'static str] = &["card", "key"];
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "checkout",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["card", "key"],
                },
                ::cairn::StateNode {
                    name: "ChargeCard",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("charge_card"),
                    fields: &["key", "receipt"],
                },
                ::cairn::StateNode {
                    name: "ReadCache",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("read_cache"),
                    fields: &["key", "cached"],
                },
                ::cairn::StateNode {
                    name: "Parallel",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("parallel"),
                    fields: &["a", "b"],
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
                    from: 3usize,
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
        async fn checkout(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<(Card, String)>,
        ) -> Result<String, String> {
            /// The states of workflow `checkout`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum CheckoutState<T_receipt, T_cached, T_a, T_b> {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { card: Card, key: String },
                /// After step `charge_card` (line 5).
                ChargeCard { key: String, receipt: T_receipt },
                /// After step `read_cache` (line 9).
                ReadCache { key: String, cached: T_cached },
                /// After step `parallel` (line 13).
                Parallel { a: T_a, b: T_b },
            }
            impl<T_receipt, T_cached, T_a, T_b> ::cairn::__private::StateInfo
            for CheckoutState<T_receipt, T_cached, T_a, T_b> {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::ChargeCard { .. } => "ChargeCard",
                        Self::ReadCache { .. } => "ReadCache",
                        Self::Parallel { .. } => "Parallel",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::ChargeCard { .. } => {
                            ::core::option::Option::Some("charge_card")
                        }
                        Self::ReadCache { .. } => {
                            ::core::option::Option::Some("read_cache")
                        }
                        Self::Parallel { .. } => ::core::option::Option::Some("parallel"),
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let (card, key): (Card, String) = __input;
                    CheckoutState::Start { card, key }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    CheckoutState::Start { card, key } => {
                        let receipt = ctx
                            .__task(
                                "charge_card",
                                (
                                    ::cairn::__private::retried_arg({ card }),
                                    ::cairn::__private::retried_arg({ 120 }),
                                ),
                                |(__arg0, __arg1)| charge_card(
                                    ::cairn::__private::RetriedArg::into_inner(__arg0),
                                    ::cairn::__private::RetriedArg::into_inner(__arg1),
                                ),
                            )
                            .retry(RetryPolicy::exponential(5))
                            .await?;
                        __state = CheckoutState::ChargeCard {
                            key,
                            receipt,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    CheckoutState::ChargeCard { key, receipt } => {
                        let cached = match ctx
                            .__task(
                                "read_cache",
                                (key.clone(),),
                                |(__arg0,)| read_cache(__arg0),
                            )
                            .await
                        {
                            Ok(value) => value,
                            Err(_) => receipt.clone(),
                        };
                        __state = CheckoutState::ReadCache {
                            key,
                            cached,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    CheckoutState::ReadCache { key, cached } => {
                        let (a, b) = ctx
                            .parallel((
                                ::cairn::step("search", search(cached.clone())),
                                ::cairn::step("search", search(key)),
                            ))
                            .await?;
                        __state = CheckoutState::Parallel { a, b };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    CheckoutState::Parallel { a, b } => {
                        return Ok(a + &b);
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
                        CheckoutState::Start { card, key, .. } => {
                            ::cairn::__private::check_stored(
                                card,
                                (&&&::cairn::__private::Probe::of(card)).kind(),
                            );
                            ::cairn::__private::check_stored(
                                key,
                                (&&&::cairn::__private::Probe::of(key)).kind(),
                            );
                        }
                        CheckoutState::ChargeCard { receipt, .. } => {
                            ::cairn::__private::check_step_result(
                                receipt,
                                (&&&::cairn::__private::Probe::of(receipt)).kind(),
                            );
                        }
                        CheckoutState::ReadCache { cached, .. } => {
                            ::cairn::__private::check_step_result(
                                cached,
                                (&&&::cairn::__private::Probe::of(cached)).kind(),
                            );
                        }
                        CheckoutState::Parallel { a, b, .. } => {
                            ::cairn::__private::check_step_result(
                                a,
                                (&&&::cairn::__private::Probe::of(a)).kind(),
                            );
                            ::cairn::__private::check_step_result(
                                b,
                                (&&&::cairn::__private::Probe::of(b)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(
                checkout(__ctx, __start).await,
            )
        })
    }
}
