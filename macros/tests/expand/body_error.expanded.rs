::core::compile_error! {
    "`.await` inside a closure cannot be made durable; use a `for` loop over a `Vec` instead of `.map()` or `.for_each()`, so that each await becomes a state"
}
#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
struct broken;
impl ::cairn::Workflow for broken {
    type Input = Vec<u32>;
    type Output = <Result<u32, String> as ::cairn::__private::WorkflowResult>::Output;
    const NAME: &'static str = "broken";
    const FINGERPRINT: u64 = 0;
    fn drive<'cairn>(
        _: &'cairn mut ::cairn::Context,
        _: ::cairn::__private::Start<Self::Input>,
    ) -> ::cairn::__private::BoxFuture<
        'cairn,
        ::core::result::Result<Self::Output, ::std::string::String>,
    > {
        ::core::unreachable!("the workflow did not compile")
    }
}
#[allow(dead_code, unused)]
async fn __cairn_unexpanded_broken(
    ctx: &mut Context,
    items: Vec<u32>,
) -> Result<u32, String> {
    let first = ctx.__task("fetch", (1,), |(__arg0,)| fetch(__arg0)).await?;
    let doubled: Vec<u32> = items.iter().map(|x| async { x * 2 }.await).collect();
    Ok(first + doubled.len() as u32)
}
