//! Changing a workflow with runs in flight, on LMDB directories written by older layouts
//! (`tests/fixtures/upgrade/<case>/`): each is opened by the current code, which reports the
//! stored runs it cannot resume (which state, which field, the old and new types, both ways
//! out), adopts those whose current state is stored the same way, and moves the others with a
//! migration.
//!
//! The fixtures are written by `make_upgrade_fixtures` below, from the `old` workflows of each
//! case: `cargo test --test upgrade -- --ignored make_upgrade_fixtures` (it rewrites
//! `tests/fixtures/upgrade/`; commit the result). The `new` workflows are the current code.

use std::path::{Path, PathBuf};

use cairn::{Context, Error, Flow, RunId, Runtime, RuntimeBuilder, Status, StoredState, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod v1 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("on {topic}"),
        }])
    }

    pub async fn count(papers: Vec<Paper>) -> Result<usize, String> {
        Ok(papers.len())
    }
}

mod v2 {
    use super::*;
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
        pub year: u32,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("on {topic}"),
            year: 2024,
        }])
    }

    pub async fn count(papers: Vec<Paper>) -> Result<String, String> {
        Ok(papers
            .iter()
            .map(|p| format!("{} ({})", p.title, p.year))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

async fn check(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn verify(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn finish(n: u64) -> Result<u64, String> {
    Ok(n + 1000)
}

/// One version of a user's types: `Status`, an enum held in each `Job` of a `Vec` that a state
/// holds (its type inferred from `list_jobs`), and the two steps that use them. Each version
/// differs from `jobs_v1` in `Status` only.
macro_rules! jobs {
    ($module:ident, $status:item, $jobs:expr) => {
        mod $module {
            use super::*;

            #[derive(Clone, Debug, Serialize, Deserialize)]
            $status

            #[derive(Clone, Debug, Serialize, Deserialize)]
            pub struct Job {
                pub id: u64,
                pub status: Status,
            }

            pub async fn list_jobs(a: u64) -> Result<Vec<Job>, String> {
                let jobs: fn(u64) -> Vec<Job> = $jobs;
                Ok(jobs(a))
            }

            /// The jobs as JSON: what the run's output shows of them.
            pub async fn summarize(jobs: Vec<Job>) -> Result<String, String> {
                serde_json::to_string(&jobs).map_err(|e| e.to_string())
            }
        }
    };
}

jobs!(
    jobs_v1,
    pub enum Status {
        Queued,
        Running { worker: u32 },
        Done(String),
    },
    |a| vec![
        Job {
            id: a,
            status: Status::Running { worker: 7 }
        },
        Job {
            id: a + 1,
            status: Status::Done("ok".to_owned())
        },
    ]
);
jobs!(
    jobs_gained_field,
    pub enum Status {
        Queued,
        Running { worker: u32, since: u64 },
        Done(String),
    },
    |a| vec![Job {
        id: a,
        status: Status::Running {
            worker: 8,
            since: 99
        }
    }]
);
jobs!(
    jobs_retyped,
    pub enum Status {
        Queued,
        Running { worker: u32 },
        Done(u64),
    },
    |a| vec![Job {
        id: a,
        status: Status::Done(1)
    }]
);
jobs!(
    jobs_reordered,
    pub enum Status {
        Running { worker: u32 },
        Queued,
        Done(String),
    },
    |a| vec![Job {
        id: a,
        status: Status::Queued
    }]
);

/// The old layouts, as the fixtures were stored.
mod old {
    use super::*;

    /// `field_added`: the first state holds only the step's result.
    #[workflow(name = "field_added")]
    pub async fn field_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(finish, a).await?;
        Ok(b)
    }

    /// `inferred_type`: `papers` is whatever `v1::fetch` returns (nothing written).
    #[workflow(name = "inferred_type")]
    pub async fn inferred_type(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(v1::fetch, topic).await?;
        let n = ctx.task(v1::count, papers).await?;
        Ok(n.to_string())
    }

    /// `state_removed`: three steps.
    #[workflow(name = "state_removed")]
    pub async fn state_removed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// `state_renamed`: the second step is `check`, so its state is `Check`.
    #[workflow(name = "state_renamed")]
    pub async fn state_renamed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// `loop_added`: straight-line.
    #[workflow(name = "loop_added")]
    pub async fn loop_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }
    /// `nested_enum`: `jobs` holds `jobs_v1::Status` (inferred, nothing written).
    #[workflow(name = "nested_enum")]
    pub async fn nested_enum(ctx: &mut Context, n: u64) -> Result<String, String> {
        let a = ctx.task(double, n).await?;
        let jobs = ctx.task(jobs_v1::list_jobs, a).await?;
        let text = ctx.task(jobs_v1::summarize, jobs).await?;
        Ok(text)
    }
}

/// The current layouts.
mod new {
    use super::*;

    /// Keeps `n` across the first step: its state gains a field.
    #[workflow(name = "field_added")]
    pub async fn field_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(finish, a).await?;
        Ok(b + n)
    }

    /// `v2::fetch` returns papers with a year: only an inferred type changed, so the macro's
    /// fingerprint is the same as the old one.
    #[workflow(name = "inferred_type")]
    pub async fn inferred_type(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(v2::fetch, topic).await?;
        let n = ctx.task(v2::count, papers).await?;
        Ok(n)
    }

    /// The `check` step is gone.
    #[workflow(name = "state_removed")]
    pub async fn state_removed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let c = ctx.task(finish, a).await?;
        Ok(c)
    }

    /// `check` is now `verify`: state `Check` became `Verify`.
    #[workflow(name = "state_renamed")]
    pub async fn state_renamed(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let a = ctx.task(double, n).await?;
        let b = ctx.task(verify, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// A loop between the first and the second step: the states after it move.
    #[workflow(name = "loop_added")]
    pub async fn loop_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
        let mut a = ctx.task(double, n).await?;
        for i in 0..2u64 {
            a += ctx.task(double, i).await?;
        }
        let b = ctx.task(check, a).await?;
        let c = ctx.task(finish, b).await?;
        Ok(c)
    }

    /// A variant of the enum `jobs` holds gained a field (only inferred types changed, so the
    /// macro's fingerprint is the old one).
    #[workflow(name = "nested_enum")]
    pub async fn nested_enum_gained_field(ctx: &mut Context, n: u64) -> Result<String, String> {
        let a = ctx.task(double, n).await?;
        let jobs = ctx.task(jobs_gained_field::list_jobs, a).await?;
        let text = ctx.task(jobs_gained_field::summarize, jobs).await?;
        Ok(text)
    }

    /// A variant's field changed type.
    #[workflow(name = "nested_enum")]
    pub async fn nested_enum_retyped(ctx: &mut Context, n: u64) -> Result<String, String> {
        let a = ctx.task(double, n).await?;
        let jobs = ctx.task(jobs_retyped::list_jobs, a).await?;
        let text = ctx.task(jobs_retyped::summarize, jobs).await?;
        Ok(text)
    }

    /// Two variants swapped places (postcard stores a variant by position).
    #[workflow(name = "nested_enum")]
    pub async fn nested_enum_reordered(ctx: &mut Context, n: u64) -> Result<String, String> {
        let a = ctx.task(double, n).await?;
        let jobs = ctx.task(jobs_reordered::list_jobs, a).await?;
        let text = ctx.task(jobs_reordered::summarize, jobs).await?;
        Ok(text)
    }
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upgrade")
        .join(case)
}

/// A copy of a fixture to work on.
fn copy_fixture(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(case).join("data.mdb"), dir.path().join("data.mdb")).unwrap();
    dir
}

/// Starts one run of `W` per input, each halted right after it commits its state named
/// next to the input (run `i + 1` at `runs[i].1`), in one runtime.
async fn store_halted<W: cairn::Workflow>(dir: &Path, workflow: W, runs: &[(W::Input, &str)])
where
    W::Input: Clone,
{
    let targets: Vec<String> = runs.iter().map(|(_, at)| (*at).to_owned()).collect();
    let runtime = Runtime::builder()
        .path(dir)
        .register(workflow)
        .on_transition(move |t| {
            let target = usize::try_from(t.run.0 - 1)
                .ok()
                .and_then(|i| targets.get(i));
            if target.is_some_and(|at| at == t.state) {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .unwrap();
    let client = runtime.client();
    for (input, _) in runs {
        let run = client.start(workflow, input.clone()).await.unwrap();
        assert!(client.wait(workflow, run).await.is_err());
    }
    runtime.shutdown().await;
}

/// Writes the fixtures, all of them or those named in `UPGRADE_FIXTURES` (comma-separated:
/// a fixture made by an older build is worth keeping, since it proves that build's
/// descriptions are still read the same way).
#[tokio::test]
#[ignore = "writes tests/fixtures/upgrade; run by hand when the fixtures must be made anew"]
async fn make_upgrade_fixtures() {
    async fn write<W: cairn::Workflow>(case: &str, workflow: W, runs: &[(W::Input, &str)])
    where
        W::Input: Clone,
    {
        if let Ok(only) = std::env::var("UPGRADE_FIXTURES")
            && !only.split(',').any(|name| name.trim() == case)
        {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        store_halted(dir.path(), workflow, runs).await;
        std::fs::create_dir_all(fixture(case)).unwrap();
        // Compacted (free pages left out), to keep the committed fixtures small.
        // SAFETY: the runtime was shut down and its environment closed; nothing else uses the
        // directory.
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .max_dbs(64)
                .open(dir.path())
                .unwrap()
        };
        let target = fixture(case).join("data.mdb");
        let _ = std::fs::remove_file(&target);
        env.copy_to_path(&target, heed::CompactionOption::Enabled)
            .unwrap();
        env.prepare_for_closing().wait();
    }
    write("field_added", old::field_added, &[(5, "Double")]).await;
    write(
        "inferred_type",
        old::inferred_type,
        &[("rust".to_owned(), "Fetch")],
    )
    .await;
    write(
        "state_removed",
        old::state_removed,
        &[(5, "Check"), (6, "Double")],
    )
    .await;
    write("state_renamed", old::state_renamed, &[(5, "Check")]).await;
    write(
        "loop_added",
        old::loop_added,
        &[(5, "Double"), (6, "Check")],
    )
    .await;
    write(
        "nested_enum",
        old::nested_enum,
        &[(5, "Double"), (6, "ListJobs")],
    )
    .await;
}

fn run(id: u64) -> RunId {
    id.to_string().parse().unwrap()
}

/// A change a report must list: the state, the field, how it was stored, how it is now.
type Change = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// A run the current code must leave untouched and report.
struct Reported {
    run: u64,
    /// The state it stays in.
    state: &'static str,
    /// Changes the report lists (among others, if any).
    changes: Vec<Change>,
    /// Text the report says.
    says: Vec<&'static str>,
}

/// The current code (its registrations and migrations) opening a fixture.
struct Opening {
    code: fn(RuntimeBuilder) -> RuntimeBuilder,
    /// Every run it reports, none other.
    reported: Vec<Reported>,
    /// Runs that go on (adopted or migrated), with their outputs (the JSON a text output
    /// holds, if any).
    finished: Vec<(u64, serde_json::Value)>,
}

/// One fixture opened by one or more versions of the current code, one after the other on
/// the same copy.
struct Case {
    name: &'static str,
    fixture: &'static str,
    openings: Vec<Opening>,
}

/// The jobs `jobs_v1::list_jobs(a)` returns, as JSON.
fn v1_jobs(a: u64) -> serde_json::Value {
    json!([
        { "id": a, "status": { "Running": { "worker": 7 } } },
        { "id": a + 1, "status": { "Done": "ok" } },
    ])
}

/// What `jobs_v1::Status` held in `Vec<Job>` is spelled out as in a report.
const V1_JOBS: &str = "Vec<Job { id: u64, status: enum Status { Queued | Running { worker: u32 } | \
     Done(String) } }>";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a field added is reported with its type",
            fixture: "field_added",
            openings: vec![Opening {
                code: |b| b.register(new::field_added),
                reported: vec![Reported {
                    run: 1,
                    state: "Double",
                    changes: vec![("Double", Some("n"), None, Some("u64"))],
                    says: vec![
                        "field `n: u64` was added",
                        "register_previous",
                        "RuntimeBuilder::migrate",
                    ],
                }],
                finished: vec![],
            }],
        },
        Case {
            name: "a field added is migrated",
            fixture: "field_added",
            openings: vec![Opening {
                code: |b| {
                    b.register(new::field_added)
                        .migrate(new::field_added, |old| {
                            // The input was 5: the old state kept `double(5)`.
                            let a = old.fields["a"].as_u64().ok_or("no `a`")?;
                            Ok(old.with("n", json!(a / 2)))
                        })
                },
                reported: vec![],
                finished: vec![(1, json!(1015))],
            }],
        },
        Case {
            name: "an inferred type change is reported field by field",
            fixture: "inferred_type",
            openings: vec![Opening {
                code: |b| b.register(new::inferred_type),
                reported: vec![Reported {
                    run: 1,
                    state: "Fetch",
                    changes: vec![(
                        "Fetch",
                        Some("papers"),
                        Some("Vec<Paper { title: String }>"),
                        Some("Vec<Paper { title: String, year: u32 }>"),
                    )],
                    says: vec![
                        "(at `papers[]`: `Paper { title: String }`, now `Paper { title: String, \
                         year: u32 }`)",
                    ],
                }],
                finished: vec![],
            }],
        },
        Case {
            name: "an inferred type change is migrated",
            fixture: "inferred_type",
            openings: vec![Opening {
                code: |b| {
                    b.register(new::inferred_type).migrate(
                        new::inferred_type,
                        |mut old: StoredState| {
                            // Each stored paper gets a year.
                            if let Some(papers) = old.fields.get_mut("papers") {
                                for paper in papers.as_array_mut().into_iter().flatten() {
                                    paper["year"] = json!(1999);
                                }
                            }
                            Ok(old)
                        },
                    )
                },
                reported: vec![],
                finished: vec![(1, json!("on rust (1999)"))],
            }],
        },
        Case {
            name: "a removed state strands only the runs in it",
            fixture: "state_removed",
            // Run 1 is in `Check`, which is gone; run 2 is in `Double`, stored the same way.
            openings: vec![Opening {
                code: |b| b.register(new::state_removed),
                reported: vec![Reported {
                    run: 1,
                    state: "Check",
                    changes: vec![],
                    says: vec!["run 1 ", "state `Check`", "no longer exists"],
                }],
                finished: vec![(2, json!(1012))],
            }],
        },
        Case {
            name: "a renamed state is reported, then migrated by name",
            fixture: "state_renamed",
            openings: vec![
                Opening {
                    code: |b| b.register(new::state_renamed),
                    reported: vec![Reported {
                        run: 1,
                        state: "Check",
                        changes: vec![],
                        says: vec!["state `Check`"],
                    }],
                    finished: vec![],
                },
                Opening {
                    code: |b| {
                        b.register(new::state_renamed)
                            .migrate(new::state_renamed, |old| match old.state.as_str() {
                                "Check" => {
                                    let b = old.fields["b"].clone();
                                    Ok(StoredState::new("Verify").with("b", b))
                                }
                                other => Err(format!("no migration from `{other}`")),
                            })
                    },
                    reported: vec![],
                    finished: vec![(1, json!(1011))],
                },
            ],
        },
        Case {
            name: "a failing migration leaves the run untouched, and the old code finishes it",
            fixture: "state_renamed",
            openings: vec![
                Opening {
                    code: |b| {
                        b.register(new::state_renamed)
                            .migrate(new::state_renamed, |old| {
                                // A state the current code does not have: refused before
                                // anything is written.
                                let b = old.fields["b"].clone();
                                Ok(StoredState::new("Nowhere").with("b", b))
                            })
                    },
                    reported: vec![Reported {
                        run: 1,
                        state: "Check",
                        changes: vec![],
                        says: vec!["its migration failed", "Nowhere"],
                    }],
                    finished: vec![],
                },
                Opening {
                    code: |b| {
                        b.register(new::state_renamed)
                            .register_previous(old::state_renamed)
                    },
                    reported: vec![],
                    finished: vec![(1, json!(1011))],
                },
            ],
        },
        Case {
            name: "a loop added moves later states, and an identity migration moves them back",
            fixture: "loop_added",
            openings: vec![
                // Run 1 (in `Double`, before the loop) is adopted and finishes; run 2, in
                // `Check` after it, is stored as another variant position now.
                Opening {
                    code: |b| b.register(new::loop_added),
                    reported: vec![Reported {
                        run: 2,
                        state: "Check",
                        changes: vec![],
                        says: vec!["run 2 ", "state `Check`: stored as variant"],
                    }],
                    finished: vec![(1, json!(1000 + 10 + 2 + 1))],
                },
                Opening {
                    code: |b| b.register(new::loop_added).migrate(new::loop_added, Ok),
                    reported: vec![],
                    finished: vec![(2, json!(1013))],
                },
            ],
        },
        Case {
            name: "an unchanged enum held in a state is adopted",
            fixture: "nested_enum",
            openings: vec![Opening {
                code: |b| b.register(old::nested_enum),
                reported: vec![],
                finished: vec![(1, v1_jobs(10)), (2, v1_jobs(12))],
            }],
        },
        Case {
            name: "a variant of an enum held in a state that gains a field is reported",
            fixture: "nested_enum",
            // Run 1, in `Double`, holds no `Status`: it goes on with the new code.
            openings: vec![Opening {
                code: |b| b.register(new::nested_enum_gained_field),
                reported: vec![Reported {
                    run: 2,
                    state: "ListJobs",
                    changes: vec![(
                        "ListJobs",
                        Some("jobs"),
                        Some(V1_JOBS),
                        Some(
                            "Vec<Job { id: u64, status: enum Status { Queued | Running { worker: \
                             u32, since: u64 } | Done(String) } }>",
                        ),
                    )],
                    says: vec![
                        "state `ListJobs`, field `jobs`: stored as `Vec<Job",
                        "(at `jobs[].status::Running`: `Running { worker: u32 }`, now \
                         `Running { worker: u32, since: u64 }`)",
                    ],
                }],
                finished: vec![(
                    1,
                    json!([{ "id": 10, "status": { "Running": { "worker": 8, "since": 99 } } }]),
                )],
            }],
        },
        Case {
            name: "a variant of an enum held in a state whose field changes type is reported",
            fixture: "nested_enum",
            openings: vec![Opening {
                code: |b| b.register(new::nested_enum_retyped),
                reported: vec![Reported {
                    run: 2,
                    state: "ListJobs",
                    changes: vec![(
                        "ListJobs",
                        Some("jobs"),
                        Some(V1_JOBS),
                        Some(
                            "Vec<Job { id: u64, status: enum Status { Queued | Running { worker: \
                             u32 } | Done(u64) } }>",
                        ),
                    )],
                    says: vec!["(at `jobs[].status::Done`: `Done(String)`, now `Done(u64)`)"],
                }],
                finished: vec![(1, json!([{ "id": 10, "status": { "Done": 1 } }]))],
            }],
        },
        Case {
            name: "reordered variants of an enum held in a state are reported, and migrated by name",
            fixture: "nested_enum",
            openings: vec![
                Opening {
                    code: |b| b.register(new::nested_enum_reordered),
                    reported: vec![Reported {
                        run: 2,
                        state: "ListJobs",
                        changes: vec![(
                            "ListJobs",
                            Some("jobs"),
                            Some(V1_JOBS),
                            Some(
                                "Vec<Job { id: u64, status: enum Status { Running { worker: u32 \
                                 } | Queued | Done(String) } }>",
                            ),
                        )],
                        says: vec!["(at `jobs[].status`: `enum Status { Queued | Running"],
                    }],
                    finished: vec![(1, json!([{ "id": 10, "status": "Queued" }]))],
                },
                // The old state is read by variant name: `Running` stays `Running` although
                // its position changed.
                Opening {
                    code: |b| {
                        b.register(new::nested_enum_reordered)
                            .migrate(new::nested_enum_reordered, Ok)
                    },
                    reported: vec![],
                    finished: vec![(2, v1_jobs(12))],
                },
            ],
        },
        Case {
            name: "a variant of an enum held in a state that gains a field is migrated",
            fixture: "nested_enum",
            openings: vec![Opening {
                code: |b| {
                    b.register(new::nested_enum_gained_field).migrate(
                        new::nested_enum_gained_field,
                        |mut old: StoredState| {
                            // Every run of the old layout is given: run 1, in `Double`, has
                            // no jobs.
                            let jobs = old.fields.get_mut("jobs").and_then(|j| j.as_array_mut());
                            for job in jobs.into_iter().flatten() {
                                if let Some(running) = job["status"].get_mut("Running") {
                                    running["since"] = json!(0);
                                }
                            }
                            Ok(old)
                        },
                    )
                },
                reported: vec![],
                finished: vec![
                    (
                        1,
                        json!([{ "id": 10, "status": { "Running": { "worker": 8, "since": 99 } } }]),
                    ),
                    (
                        2,
                        json!([
                            { "id": 12, "status": { "Running": { "worker": 7, "since": 0 } } },
                            { "id": 13, "status": { "Done": "ok" } },
                        ]),
                    ),
                ],
            }],
        },
    ]
}

/// Opens `case`'s fixture with each of its versions of the code in turn and checks what is
/// reported, what is left untouched and what finishes.
async fn open_and_expect(case: &Case) {
    let dir = copy_fixture(case.fixture);
    for (i, opening) in case.openings.iter().enumerate() {
        let at = format!("{} (opening {})", case.name, i + 1);
        let runtime = (opening.code)(Runtime::builder().path(dir.path()))
            .start()
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        let client = runtime.client();
        let incompatible = runtime.incompatible_runs();
        assert_eq!(
            incompatible.len(),
            opening.reported.len(),
            "{at}: {incompatible:#?}"
        );
        for expected in &opening.reported {
            let report = incompatible
                .iter()
                .find(|e| matches!(e, Error::IncompatibleState { run: r, .. } if *r == run(expected.run)))
                .unwrap_or_else(|| panic!("{at}: run {} not reported: {incompatible:#?}", expected.run));
            let Error::IncompatibleState { changes, .. } = report else {
                unreachable!()
            };
            for &(state, field, old, new) in &expected.changes {
                assert!(
                    changes.iter().any(|c| c.state == state
                        && c.field.as_deref() == field
                        && c.old.as_deref() == old
                        && c.new.as_deref() == new),
                    "{at}: no change {:?} in {changes:#?}",
                    (state, field, old, new)
                );
            }
            let message = report.to_string();
            for says in &expected.says {
                assert!(message.contains(says), "{at}: {says:?} not in {message}");
            }
            // Untouched: still in its state, not migrated.
            let status = client.status(run(expected.run)).unwrap();
            assert_eq!(
                (status.status, status.state.as_str()),
                (Status::Running, expected.state),
                "{at}"
            );
            assert_eq!(
                client.migrated_from(run(expected.run)).unwrap(),
                None,
                "{at}"
            );
        }
        for (id, output) in &opening.finished {
            let got = client
                .wait_json(run(*id))
                .await
                .unwrap_or_else(|e| panic!("{at}: run {id}: {e}"));
            // `nested_enum` outputs its jobs as JSON text: compared as JSON.
            let got = match &got {
                serde_json::Value::String(text) => serde_json::from_str(text).unwrap_or(got),
                _ => got,
            };
            assert_eq!(&got, output, "{at}: run {id}");
            // A migrated run's original is dropped at its next transition.
            assert_eq!(client.migrated_from(run(*id)).unwrap(), None, "{at}");
        }
        runtime.shutdown().await;
    }
}

#[tokio::test]
async fn every_fixture_opens_with_its_report_adoptions_and_migrations() {
    let cases = cases();
    for case in &cases {
        open_and_expect(case).await;
    }
}

#[test]
fn only_inferred_types_differ_between_the_old_and_new_code_of_these_cases() {
    // The macro sees no difference: the descriptions must.
    assert_eq!(
        <old::inferred_type as cairn::Workflow>::FINGERPRINT,
        <new::inferred_type as cairn::Workflow>::FINGERPRINT
    );
    for fingerprint in [
        <new::nested_enum_gained_field as cairn::Workflow>::FINGERPRINT,
        <new::nested_enum_retyped as cairn::Workflow>::FINGERPRINT,
        <new::nested_enum_reordered as cairn::Workflow>::FINGERPRINT,
    ] {
        assert_eq!(
            fingerprint,
            <old::nested_enum as cairn::Workflow>::FINGERPRINT
        );
    }
}

async fn raw(n: u64) -> Result<serde_json::Value, String> {
    Ok(json!({ "n": n }))
}

/// Holds a `serde_json::Value` across a step: a type serde-reflection cannot trace.
#[workflow(name = "untraced")]
async fn untraced(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let data = ctx.task(raw, n).await?;
    let b = ctx.task(finish, n).await?;
    Ok(b + data["n"].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn a_type_that_cannot_be_traced_is_named_and_runs_fall_back_to_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(untraced)
        .start()
        .unwrap();
    let client = runtime.client();
    let stored = client.workflows().unwrap();
    let layout = stored[0].layout.as_ref().unwrap();
    assert!(!layout.is_traced());
    let reason = layout.untraced_reason().unwrap();
    assert!(reason.contains("`data`"), "{reason}");
    // Runs of it are stored under the macro's fingerprint, and run as ever.
    assert_eq!(
        stored[0].fingerprint,
        <untraced as cairn::Workflow>::FINGERPRINT
    );
    assert_eq!(client.run(untraced, 2).await.unwrap(), 1004);
    runtime.shutdown().await;
}
