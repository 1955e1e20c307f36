//! `cairn questions`: every question a run is waiting on, with what answers it.

use cairn::Client;

use crate::failure::Failure;
use crate::output;
use crate::question_view::{self, ms};
use crate::table::Table;
use crate::time;

pub fn questions(client: &Client, json: bool) -> Result<(), Failure> {
    let pending = client.pending_questions()?;
    if json {
        let questions = pending.iter().map(question_view::json).collect();
        output::json(&serde_json::Value::Array(questions));
        return Ok(());
    }
    let mut table = Table::new(&[
        "RUN", "WORKFLOW", "KIND", "ASKED", "DEADLINE", "QUESTION", "ANSWERS",
    ]);
    for pending in &pending {
        let question = &pending.question;
        table.row(vec![
            pending.run.to_string(),
            pending.workflow.clone(),
            question.kind().to_string(),
            time::instant(ms(pending.asked_at)),
            pending
                .deadline
                .map(|deadline| time::instant(ms(deadline)))
                .unwrap_or_default(),
            question.prompt().to_owned(),
            question_view::answers(question),
        ]);
    }
    output::text(&table.render());
    Ok(())
}
