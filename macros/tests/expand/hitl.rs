// A person in the loop: the question is asked after a step, the answer decides the branch,
// and a durable sleep waits before the last step.
#[workflow]
pub async fn deployment_approval(ctx: &mut Context, changes: String) -> Result<String, String> {
    let plan = ctx.task(validate_changes, changes).await?;
    let question = Question::approval(format!("Deploy {plan} to prod?"))
        .timeout(Duration::from_secs(7 * 24 * 3600), Answer::Rejected);
    let answer = ctx.wait_for_user(question).await?;
    if !answer.is_approved() {
        return Ok(format!("cancelled ({answer})"));
    }
    ctx.sleep(Duration::from_secs(60)).await?;
    let done = ctx.task(deploy, plan).await?;
    Ok(done)
}
