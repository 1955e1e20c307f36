//! A data directory written before the listing indexes (format 5) gets them built when it is
//! opened: listing by status and workflow and the counts by status see its runs at once. The
//! directory is the older build's fixture of `tests/versioning.rs` (two runs, each stopped
//! after its first transition); LMDB-only, since it is LMDB's file.

use std::path::Path;

use cairn::{Client, RunFilter, RunId, Status};

#[test]
fn an_older_directory_has_its_listing_indexes_built_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeting_v1");
    std::fs::copy(fixture.join("data.mdb"), dir.path().join("data.mdb")).unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _guard = tokio.enter();
    let client = Client::open(dir.path()).unwrap();

    let counts = client.count_by_status().unwrap();
    assert_eq!(
        counts.iter().collect::<Vec<_>>(),
        vec![(Status::Running, 2)]
    );
    let ids = |filter: RunFilter| -> Vec<RunId> {
        let page = client.list_runs(&filter, 10, None).unwrap();
        assert_eq!(page.next, None);
        page.runs.iter().map(|r| r.id).collect()
    };
    assert_eq!(
        ids(RunFilter::new().status(Status::Running)),
        [RunId(1), RunId(2)]
    );
    assert_eq!(ids(RunFilter::new().workflow("greeting")), [RunId(1)]);
    assert_eq!(ids(RunFilter::new().workflow("counter")), [RunId(2)]);
    assert_eq!(ids(RunFilter::new().status(Status::Completed)), []);
    // What the index lists is what the records say.
    let listed = client.list_runs(&RunFilter::new(), 10, None).unwrap().runs;
    assert_eq!(listed, client.list(None).unwrap());
}
