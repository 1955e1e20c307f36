//! Questions, answers and sessions (people in the loop), with the same tables and indexes as
//! LMDB's (`lmdb/hitl.rs`): a question keyed by (run, position), flagged while it waits for an
//! answer; `answered` and `deadlines`, what the answer watcher polls; sessions as (session,
//! run) rows in run order.

use super::PgStore;
use super::error::{corrupt, encode_error};
use super::runs::{self, must_get};
use super::sql::Sql;
use super::{big, rid, unbig};
use crate::error::Error;
use crate::lifecycle;
use crate::question::Answer;
use crate::run::{RunId, Status};
use crate::store::RunRecord;
use crate::store::hitl::{Asked, Claim, DueAnswers, HitlStore, StoredQuestion};

async fn question_at(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
) -> Result<Option<StoredQuestion>, Error> {
    let row = sql
        .opt(
            "SELECT question FROM questions WHERE run = $1 AND position = $2",
            &[&rid(run), &big(position)],
        )
        .await?;
    row.map(|row| crate::codec::open_record(row.get(0)).map_err(|e| corrupt(run, "question", e)))
        .transpose()
}

async fn put_question(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    question: &StoredQuestion,
) -> Result<(), Error> {
    let bytes = crate::codec::seal_record(question, 64).map_err(|e| encode_error("question", e))?;
    sql.exec(
        "INSERT INTO questions (run, position, question, pending) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run, position) DO UPDATE
             SET question = EXCLUDED.question, pending = EXCLUDED.pending",
        &[
            &rid(run),
            &big(position),
            &bytes,
            &question.answer.is_none(),
        ],
    )
    .await?;
    Ok(())
}

/// A waiting run leaves the active index; answered, it is in `answered`, else under its
/// deadline if it has one.
async fn index_waiting(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    question: &StoredQuestion,
) -> Result<(), Error> {
    runs::unset_active(sql, run).await?;
    if question.answer.is_some() {
        sql.exec(
            "INSERT INTO answered (run, position) VALUES ($1, $2)
             ON CONFLICT (run) DO UPDATE SET position = EXCLUDED.position",
            &[&rid(run), &big(position)],
        )
        .await?;
        sql.exec("DELETE FROM deadlines WHERE run = $1", &[&rid(run)])
            .await?;
    } else if let Some(deadline) = question.deadline_ms {
        sql.exec(
            "INSERT INTO deadlines (deadline_ms, run, position) VALUES ($1, $2, $3)
             ON CONFLICT (deadline_ms, run) DO UPDATE SET position = EXCLUDED.position",
            &[&big(deadline), &rid(run), &big(position)],
        )
        .await?;
    }
    Ok(())
}

/// A run going on past its question: out of the answer indexes, active again.
async fn index_going_on(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM answered WHERE run = $1", &[&rid(run)])
        .await?;
    sql.exec("DELETE FROM deadlines WHERE run = $1", &[&rid(run)])
        .await?;
    runs::set_active(sql, run).await
}

pub(super) async fn ask(
    sql: Sql<'_, '_>,
    run: RunId,
    position: u64,
    question: &StoredQuestion,
    now_ms: u64,
) -> Result<Asked, Error> {
    let mut record = must_get(sql, run).await?;
    lifecycle::at_position(run, record.transitions, position)?;
    let mut stored = match question_at(sql, run, position).await? {
        Some(stored) => stored,
        None => {
            put_question(sql, run, position, question).await?;
            question.clone()
        }
    };
    if lifecycle::expire(&mut stored, now_ms) {
        put_question(sql, run, position, &stored).await?;
    }
    Ok(match stored.answer.clone() {
        Some(answer) => {
            let status = lifecycle::runnable(&record);
            if lifecycle::set_status(&mut record, status, now_ms) {
                runs::put(sql, run, &record).await?;
            }
            index_going_on(sql, run).await?;
            Asked::Answered {
                answer,
                asked_at_ms: stored.asked_at_ms,
            }
        }
        None => {
            if lifecycle::set_status(&mut record, Status::Waiting, now_ms) {
                runs::put(sql, run, &record).await?;
            }
            index_waiting(sql, run, position, &stored).await?;
            Asked::Waiting {
                deadline_ms: stored.deadline_ms,
            }
        }
    })
}

pub(super) async fn answer(
    sql: Sql<'_, '_>,
    run: RunId,
    answer: &Answer,
    now_ms: u64,
) -> Result<Answer, Error> {
    let record = must_get(sql, run).await?;
    let position = record.transitions;
    let mut stored = if record.status.is_finished() {
        None
    } else {
        question_at(sql, run, position).await?
    };
    let answer = lifecycle::answer(run, &record, stored.as_mut(), answer, now_ms)?;
    if let Some(stored) = &stored {
        put_question(sql, run, position, stored).await?;
        if record.status == Status::Waiting {
            index_waiting(sql, run, position, stored).await?;
        }
    }
    Ok(answer)
}

pub(super) async fn claim(sql: Sql<'_, '_>, run: RunId, now_ms: u64) -> Result<Claim, Error> {
    if let Some(claim) = super::children::claim_parent(sql, run, now_ms).await? {
        // Parked on its children (see `children.rs`), not on a question.
        return Ok(claim);
    }
    let quarantined = runs::quarantine_entry(sql, run).await?.is_some();
    let question = match runs::get_locked(sql, run).await? {
        Some(_) if quarantined => None,
        Some(record) if record.status == Status::Waiting => {
            let position = record.transitions;
            question_at(sql, run, position)
                .await?
                .map(|stored| (record, position, stored))
        }
        _ => None,
    };
    let Some((mut record, position, mut stored)) = question else {
        sql.exec("DELETE FROM answered WHERE run = $1", &[&rid(run)])
            .await?;
        return Ok(Claim::Gone);
    };
    if lifecycle::expire(&mut stored, now_ms) {
        put_question(sql, run, position, &stored).await?;
    }
    if stored.answer.is_none() {
        return Ok(Claim::Waiting);
    }
    lifecycle::go_on(&mut record, now_ms);
    runs::put(sql, run, &record).await?;
    index_going_on(sql, run).await?;
    Ok(Claim::Claimed(Box::new(record)))
}

pub(super) async fn create_in_session(
    sql: Sql<'_, '_>,
    session: &str,
    record: &RunRecord,
) -> Result<RunId, Error> {
    // Locks the session's last row, so that two creators in one session go one at a time.
    let previous = sql
        .opt(
            "SELECT run FROM sessions WHERE session = $1 ORDER BY run DESC LIMIT 1 FOR UPDATE",
            &[&session],
        )
        .await?
        .map(|row| RunId(unbig(row.get(0))));
    if let Some(previous) = previous
        && let Some(last) = runs::get_locked(sql, previous).await?
        && !last.status.is_finished()
    {
        return Err(Error::SessionBusy {
            session: session.to_owned(),
            run: previous,
        });
    }
    let run = runs::create(sql, record).await?;
    if let Some(previous) = previous {
        sql.exec(
            "INSERT INTO kv (run, key, value) SELECT $1, key, value FROM kv WHERE run = $2",
            &[&rid(run), &rid(previous)],
        )
        .await?;
    }
    sql.exec(
        "INSERT INTO sessions (session, run) VALUES ($1, $2)",
        &[&session, &rid(run)],
    )
    .await?;
    Ok(run)
}

impl HitlStore for PgStore {
    fn due_answers(&self, now_ms: u64, limit: usize) -> Result<DueAnswers, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.driver.run(|client| async move {
            let sql = Sql::Conn(&client);
            let mut due = DueAnswers::default();
            for row in sql
                .rows("SELECT run FROM answered ORDER BY run LIMIT $1", &[&limit])
                .await?
            {
                due.runs.push(RunId(unbig(row.get(0))));
            }
            let rows = sql
                .rows(
                    "SELECT d.deadline_ms, d.run FROM deadlines d
                     WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.run = d.run)
                     ORDER BY d.deadline_ms, d.run LIMIT $1",
                    &[&(limit.saturating_mul(2).saturating_add(1))],
                )
                .await?;
            let cap = usize::try_from(limit.saturating_mul(2)).unwrap_or(usize::MAX);
            for row in rows {
                let deadline = unbig(row.get(0));
                if deadline > now_ms || due.runs.len() >= cap {
                    due.next_deadline_ms = Some(deadline);
                    break;
                }
                due.runs.push(RunId(unbig(row.get(1))));
            }
            Ok(due)
        })
    }

    fn waiting_for_answers(&self) -> Result<u64, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .one("SELECT COUNT(*) FROM questions WHERE pending", &[])
                .await?;
            Ok(unbig(row.get(0)))
        })
    }

    fn pending_questions(&self) -> Result<Vec<(RunId, u64, StoredQuestion)>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT q.run, q.position, q.question, r.record FROM questions q
                     JOIN runs r ON r.id = q.run
                     WHERE q.pending
                       AND NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.run = q.run)
                     ORDER BY q.run, q.position",
                    &[],
                )
                .await?;
            let mut out = Vec::new();
            for row in rows {
                let run = RunId(unbig(row.get(0)));
                let position = unbig(row.get(1));
                let skip = |e: Error| {
                    tracing::error!(%run, error = %e, "skipping a question that cannot be read");
                };
                match PgStore::decode(run, row.get(3)) {
                    Ok(record)
                        if !record.status.is_finished() && record.transitions == position => {}
                    Ok(_) => continue,
                    Err(e) => {
                        skip(e);
                        continue;
                    }
                }
                match crate::codec::open_record(row.get(2)) {
                    Ok(question) => out.push((run, position, question)),
                    Err(e) => skip(corrupt(run, "question", e)),
                }
            }
            Ok(out)
        })
    }

    fn current_question(&self, run: RunId) -> Result<Option<(u64, StoredQuestion)>, Error> {
        self.driver.run(|client| async move {
            let sql = Sql::Conn(&client);
            let Some(record) = runs::get(sql, run).await? else {
                return Err(Error::UnknownRun { run });
            };
            let position = record.transitions;
            Ok(question_at(sql, run, position)
                .await?
                .map(|question| (position, question)))
        })
    }

    fn session_runs(&self, session: &str) -> Result<Vec<RunId>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT run FROM sessions WHERE session = $1 ORDER BY run",
                    &[&session],
                )
                .await?;
            Ok(rows.iter().map(|row| RunId(unbig(row.get(0)))).collect())
        })
    }
}
