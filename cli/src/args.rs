//! The command line, as clap reads it: global options, one subcommand per operation, the
//! filters they take into the library's `RunFilter`, and the parsers of their values (run
//! ids, statuses; times are read in `time.rs`).

use std::path::PathBuf;
use std::time::SystemTime;

use cairn::{Cursor, RunFilter, RunId, Status};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::time::parse_when;

/// Inspect and operate the runs of a cairn data directory.
///
/// Opens the directory as a client only: it never runs workflows. What it commits (an
/// answer, a resume, an unpause) is taken up by the program that runs them; a cancel or a
/// pause of a running run takes effect at the run's next commit.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The data directory [default: $CAIRN_DATA_DIR, else ./cairn-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print JSON for scripts instead of text for people
    #[arg(long, global = true)]
    pub json: bool,
}

/// One operation.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List runs in the order they were created, a page at a time
    Runs(RunsArgs),
    /// Show one run: status, position, key-value state, question and history
    Show {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Count the runs of each status (from the store's counters, without reading runs)
    Counts,
    /// List the questions runs are waiting on
    Questions,
    /// Answer the question a run is waiting on
    #[command(after_help = ANSWER_HELP)]
    Answer {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
        /// The answer: approve/reject, an option id, ids separated by commas, text, or skip
        answer: String,
    },
    /// Send an event into a run, for its `ctx.wait_for_event("NAME")`
    Send {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
        /// The event's name
        name: String,
        /// The payload, as JSON (`'{"cents": 1200}'`, `'"text"'`, `true`)
        payload: String,
    },
    /// Resume a failed run from its last committed state
    Resume {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Follow a run live until it finishes: exits 0 if it completes, 1 if not
    #[command(after_help = WATCH_HELP)]
    Watch {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Draw a workflow's states, with a run's current state marked
    Graph(GraphArgs),
    /// Cancel a run: it starts no further step and ends cancelled
    Cancel {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Pause a run: it holds, on disk, after its step in flight, until unpaused
    Pause {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Let a paused run go on from its last committed state
    Unpause {
        /// The run's id
        #[arg(value_parser = parse_run)]
        run: RunId,
    },
    /// Delete finished runs (completed, failed, cancelled) and everything stored of them
    Purge(PurgeArgs),
    /// Serve the web dashboard: runs, state graphs, timelines, questions, in a browser
    #[command(after_help = UI_HELP)]
    Ui(UiArgs),
}

/// Where and how `cairn ui` serves.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// The address to serve on; a non-loopback one needs --token
    #[arg(long, default_value = "127.0.0.1:7777", value_name = "ADDR:PORT")]
    pub bind: std::net::SocketAddr,

    /// An access token every request must carry (letters, digits, '-', '_', '.')
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CAIRN_UI_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// What `cairn ui` does, shown under its `--help`.
const UI_HELP: &str = "\
Serves the dashboard over the data directory until interrupted, opened as a client only: the
program that runs the workflows takes up what it commits (answers, resumes, unpauses). Every
page and script is inside the binary; nothing is fetched from the internet.

Without --token it binds a loopback address only. With one, open http://ADDR:PORT/?token=TOKEN
once in the browser (a cookie keeps it), or send `Authorization: Bearer TOKEN`.";

/// Which finished runs `cairn purge` deletes. Every filter given must hold; unfinished runs
/// are never deleted.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only runs that finished before TIME: a UTC date and time (2026-11-29,
    /// 2026-11-29T16:52:10Z) or how long ago (90s, 15m, 2h, 7d)
    #[arg(long, required = true, value_parser = parse_when, value_name = "TIME")]
    pub finished_before: SystemTime,

    /// Only runs with this status (completed, failed or cancelled)
    #[arg(long, value_parser = parse_status, value_name = "STATUS")]
    pub status: Option<Status>,

    /// Only runs of this workflow
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// Count the runs that would be deleted, and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl PurgeArgs {
    /// The filter the library takes.
    pub fn filter(&self) -> RunFilter {
        let mut filter = RunFilter::new().finished_before(self.finished_before);
        if let Some(status) = self.status {
            filter = filter.status(status);
        }
        if let Some(workflow) = &self.workflow {
            filter = filter.workflow(workflow.clone());
        }
        filter
    }
}

/// What `cairn watch` prints, shown under its `--help`.
const WATCH_HELP: &str = "\
Prints the run as it is, then a line per committed transition (with the key-value state it
changed) until the run finishes. With --json, one JSON object per update, one per line.";

/// What `cairn graph` draws.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow's name
    pub workflow: String,

    /// Mark this run's current state (and draw the version of the workflow that stored it)
    #[arg(long, value_parser = parse_run, value_name = "RUN")]
    pub run: Option<RunId>,

    /// The diagram's language
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// A diagram language `cairn graph` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid state diagram (GitHub and many editors draw it)
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`)
    Dot,
}

/// How `cairn answer` reads its answer, shown under its `--help`.
const ANSWER_HELP: &str = "\
How ANSWER is read, by the question's kind:
  approval         approve (yes, y) or reject (no, n)
  choice           the id of one option
  multiple choice  option ids separated by commas: a,c
  text             any text (quote it)
`skip` skips a question that allows it; anything else is a custom answer, refused unless the
question allows one. `cairn questions` lists the options.";

/// Filters of `cairn runs`. Every filter given must hold.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs with this status
    #[arg(long, value_parser = parse_status, value_name = "STATUS")]
    pub status: Option<Status>,

    /// Only runs of this workflow
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    #[command(flatten)]
    pub times: TimeFilters,

    /// At most this many runs
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,

    /// Start after this cursor: the one the previous page ended with
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<Cursor>,
}

/// Bounds on when runs were created or finished. TIME is a UTC date and time (2026-11-29,
/// 2026-11-29T16:52:10Z) or how long ago (90s, 15m, 2h, 7d).
#[derive(Debug, Args)]
pub struct TimeFilters {
    /// Only runs created at or after TIME
    #[arg(long, value_parser = parse_when, value_name = "TIME")]
    pub created_since: Option<SystemTime>,

    /// Only runs created before TIME
    #[arg(long, value_parser = parse_when, value_name = "TIME")]
    pub created_before: Option<SystemTime>,

    /// Only finished runs that finished at or after TIME
    #[arg(long, value_parser = parse_when, value_name = "TIME")]
    pub finished_since: Option<SystemTime>,

    /// Only finished runs that finished before TIME
    #[arg(long, value_parser = parse_when, value_name = "TIME")]
    pub finished_before: Option<SystemTime>,
}

impl RunsArgs {
    /// The filter the library takes.
    pub fn filter(&self) -> RunFilter {
        let mut filter = self.times.filter();
        if let Some(status) = self.status {
            filter = filter.status(status);
        }
        if let Some(workflow) = &self.workflow {
            filter = filter.workflow(workflow.clone());
        }
        filter
    }
}

impl TimeFilters {
    /// The filter of these bounds alone.
    pub fn filter(&self) -> RunFilter {
        let mut filter = RunFilter::new();
        if let Some(time) = self.created_since {
            filter = filter.created_since(time);
        }
        if let Some(time) = self.created_before {
            filter = filter.created_before(time);
        }
        if let Some(time) = self.finished_since {
            filter = filter.finished_since(time);
        }
        if let Some(time) = self.finished_before {
            filter = filter.finished_before(time);
        }
        filter
    }
}

/// Every status a run can have, by the name `Status` displays.
const STATUSES: [Status; 9] = [
    Status::Queued,
    Status::Pending,
    Status::Running,
    Status::Waiting,
    Status::Paused,
    Status::Completed,
    Status::Failed,
    Status::Cancelled,
    Status::Corrupt,
];

fn parse_status(text: &str) -> Result<Status, String> {
    STATUSES
        .into_iter()
        .find(|status| status.to_string() == text)
        .ok_or_else(|| {
            let names: Vec<String> = STATUSES.iter().map(Status::to_string).collect();
            format!("expected one of: {}", names.join(", "))
        })
}

fn parse_run(text: &str) -> Result<RunId, String> {
    text.parse()
        .map_err(|_| "a run id is a whole number, such as 42".to_owned())
}
