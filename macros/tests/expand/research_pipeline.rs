#[workflow]
async fn research_pipeline(ctx: &mut Context, topic: String) -> Result<Report, StepError> {
    let papers = ctx.task(fetch_papers, topic.clone()).await?;
    let mut notes = Vec::new();
    for paper in papers {
        let note = ctx.task(analyze, paper).await?;
        notes.push(note);
    }
    let summary = ctx.step("synthesize", synthesize(topic, notes)).await?;
    Ok(Report { summary })
}
