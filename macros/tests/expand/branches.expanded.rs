/// Picks a route, with awaits in a condition, in branches, in a `match` and in an expression.
///
/// The durable workflow `route`: register it with `Runtime::builder().register(route)` and start runs with `client.start(route, input)`.
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct route;
impl ::cairn::Workflow for route {
    type Input = Order;
    type Output = <Result<u64, Error> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "route";
    const FINGERPRINT: u64 = 10652457359075127230u64;
    const LEGACY_FINGERPRINT: ::core::option::Option<u64> = ::core::option::Option::Some(
        9025915399914753428u64,
    );
    const PARAMETERS: &'static [&'static str] = &["order"];
    fn graph() -> &'static ::cairn::StateGraph {
        static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
            workflow: "route",
            states: &[
                ::cairn::StateNode {
                    name: "Start",
                    kind: ::cairn::StateKind::Start,
                    step: ::core::option::Option::None,
                    fields: &["order"],
                },
                ::cairn::StateNode {
                    name: "InStock",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("in_stock"),
                    fields: &["order", "cost", "__in_stock"],
                },
                ::cairn::StateNode {
                    name: "Reserve",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("reserve"),
                    fields: &["order", "cost", "__reserve"],
                },
                ::cairn::StateNode {
                    name: "NotifyBackorder",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("notify_backorder"),
                    fields: &["order", "cost"],
                },
                ::cairn::StateNode {
                    name: "AfterIf",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["order", "cost"],
                },
                ::cairn::StateNode {
                    name: "QuoteExpress",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("quote_express"),
                    fields: &["cost", "__quote_express"],
                },
                ::cairn::StateNode {
                    name: "AfterMatch",
                    kind: ::cairn::StateKind::Join,
                    step: ::core::option::Option::None,
                    fields: &["cost", "shipping"],
                },
                ::cairn::StateNode {
                    name: "Convert",
                    kind: ::cairn::StateKind::Stored,
                    step: ::core::option::Option::Some("convert"),
                    fields: &["__convert"],
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
                    to: ::core::option::Option::Some(4usize),
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
                    to: ::core::option::Option::Some(6usize),
                },
                ::cairn::StateEdge {
                    from: 5usize,
                    to: ::core::option::Option::Some(6usize),
                },
                ::cairn::StateEdge {
                    from: 6usize,
                    to: ::core::option::Option::Some(7usize),
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
        async fn route(
            ctx: &mut Context,
            __start: ::cairn::__private::Start<Order>,
        ) -> Result<u64, Error> {
            /// The states of workflow `route`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.
            #[derive(
                ::cairn::__private::serde::Serialize,
                ::cairn::__private::serde::Deserialize
            )]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum RouteState<
                T_cost,
                T_in_stock,
                T_reserve,
                T_shipping,
                T_quote_express,
                T_convert,
            > {
                /// The run's start, holding its inputs. Not stored: the input is stored with the run.
                Start { order: Order },
                /// After step `in_stock` (line 5).
                InStock { order: Order, cost: T_cost, __in_stock: T_in_stock },
                /// After step `reserve` (line 6).
                Reserve { order: Order, cost: T_cost, __reserve: T_reserve },
                /// After step `notify_backorder` (line 8).
                NotifyBackorder { order: Order, cost: T_cost },
                /// After the branches of the `if` (line 5). Not stored.
                AfterIf { order: Order, cost: T_cost },
                /// After step `quote_express` (line 11).
                QuoteExpress { cost: T_cost, __quote_express: T_quote_express },
                /// After the arms of the `match` (line 10). Not stored.
                AfterMatch { cost: T_cost, shipping: T_shipping },
                /// After step `convert` (line 14).
                Convert { __convert: T_convert },
            }
            impl<
                T_cost,
                T_in_stock,
                T_reserve,
                T_shipping,
                T_quote_express,
                T_convert,
            > ::cairn::__private::StateInfo
            for RouteState<
                T_cost,
                T_in_stock,
                T_reserve,
                T_shipping,
                T_quote_express,
                T_convert,
            > {
                fn state_name(&self) -> &'static str {
                    match self {
                        Self::Start { .. } => "Start",
                        Self::InStock { .. } => "InStock",
                        Self::Reserve { .. } => "Reserve",
                        Self::NotifyBackorder { .. } => "NotifyBackorder",
                        Self::AfterIf { .. } => "AfterIf",
                        Self::QuoteExpress { .. } => "QuoteExpress",
                        Self::AfterMatch { .. } => "AfterMatch",
                        Self::Convert { .. } => "Convert",
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        Self::InStock { .. } => ::core::option::Option::Some("in_stock"),
                        Self::Reserve { .. } => ::core::option::Option::Some("reserve"),
                        Self::NotifyBackorder { .. } => {
                            ::core::option::Option::Some("notify_backorder")
                        }
                        Self::QuoteExpress { .. } => {
                            ::core::option::Option::Some("quote_express")
                        }
                        Self::Convert { .. } => ::core::option::Option::Some("convert"),
                        _ => ::core::option::Option::None,
                    }
                }
            }
            let __codec = ::core::default::Default::default();
            let mut __state = match __start {
                ::cairn::__private::Start::New(__input) => {
                    let order: Order = __input;
                    RouteState::Start { order }
                }
                ::cairn::__private::Start::Resume(__bytes) => {
                    ctx.__decode_state(&__codec, &__bytes).await
                }
            };
            '__cairn: loop {
                match __state {
                    RouteState::Start { order } => {
                        let mut cost = 0;
                        let __in_stock = ctx
                            .__task(
                                "in_stock",
                                (order.item,),
                                |(__arg0,)| in_stock(__arg0),
                            )
                            .await?;
                        __state = RouteState::InStock {
                            order,
                            cost,
                            __in_stock,
                        };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    RouteState::InStock { order, mut cost, __in_stock } => {
                        if __in_stock {
                            let __reserve = ctx
                                .__task(
                                    "reserve",
                                    (order.item, order.count),
                                    |(__arg0, __arg1)| reserve(__arg0, __arg1),
                                )
                                .await?;
                            __state = RouteState::Reserve {
                                order,
                                cost,
                                __reserve,
                            };
                            ctx.__checkpoint(&__codec, &__state).await;
                            continue '__cairn;
                        } else {
                            ctx.step("notify_backorder", notify(order.item)).await?;
                            __state = RouteState::NotifyBackorder {
                                order,
                                cost,
                            };
                            ctx.__checkpoint(&__codec, &__state).await;
                            continue '__cairn;
                        }
                    }
                    RouteState::Reserve { order, mut cost, __reserve } => {
                        cost += __reserve;
                        __state = RouteState::AfterIf { order, cost };
                        continue '__cairn;
                    }
                    RouteState::NotifyBackorder { order, mut cost } => {
                        __state = RouteState::AfterIf { order, cost };
                        continue '__cairn;
                    }
                    RouteState::AfterIf { order, mut cost } => {
                        match order.speed {
                            Speed::Express => {
                                let __quote_express = ctx
                                    .__task(
                                        "quote_express",
                                        (order.item,),
                                        |(__arg0,)| quote_express(__arg0),
                                    )
                                    .await?;
                                __state = RouteState::QuoteExpress {
                                    cost,
                                    __quote_express,
                                };
                                ctx.__checkpoint(&__codec, &__state).await;
                                continue '__cairn;
                            }
                            Speed::Normal => {
                                let shipping = 5;
                                __state = RouteState::AfterMatch {
                                    cost,
                                    shipping,
                                };
                                continue '__cairn;
                            }
                        }
                    }
                    RouteState::QuoteExpress { mut cost, __quote_express } => {
                        let shipping = __quote_express;
                        __state = RouteState::AfterMatch {
                            cost,
                            shipping,
                        };
                        continue '__cairn;
                    }
                    RouteState::AfterMatch { mut cost, shipping } => {
                        let __convert = ctx
                            .__task(
                                "convert",
                                (cost + shipping,),
                                |(__arg0,)| convert(__arg0),
                            )
                            .await?;
                        __state = RouteState::Convert { __convert };
                        ctx.__checkpoint(&__codec, &__state).await;
                        continue '__cairn;
                    }
                    RouteState::Convert { __convert } => {
                        let total = apply_tax(__convert);
                        return Ok(total);
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
                        RouteState::Start { order, .. } => {
                            ::cairn::__private::check_stored(
                                order,
                                (&&&::cairn::__private::Probe::of(order)).kind(),
                            );
                        }
                        RouteState::InStock { cost, __in_stock, .. } => {
                            ::cairn::__private::check_stored(
                                cost,
                                (&&&::cairn::__private::Probe::of(cost)).kind(),
                            );
                            ::cairn::__private::check_step_result(
                                __in_stock,
                                (&&&::cairn::__private::Probe::of(__in_stock)).kind(),
                            );
                        }
                        RouteState::Reserve { __reserve, .. } => {
                            ::cairn::__private::check_step_result(
                                __reserve,
                                (&&&::cairn::__private::Probe::of(__reserve)).kind(),
                            );
                        }
                        RouteState::QuoteExpress { __quote_express, .. } => {
                            ::cairn::__private::check_step_result(
                                __quote_express,
                                (&&&::cairn::__private::Probe::of(__quote_express)).kind(),
                            );
                        }
                        RouteState::AfterMatch { shipping, .. } => {
                            ::cairn::__private::check_stored(
                                shipping,
                                (&&&::cairn::__private::Probe::of(shipping)).kind(),
                            );
                        }
                        RouteState::Convert { __convert, .. } => {
                            ::cairn::__private::check_step_result(
                                __convert,
                                (&&&::cairn::__private::Probe::of(__convert)).kind(),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        ::std::boxed::Box::pin(async move {
            ::cairn::__private::WorkflowResult::into_outcome(route(__ctx, __start).await)
        })
    }
}
