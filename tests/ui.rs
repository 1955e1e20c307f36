//! Compile-time behaviour of `#[workflow]`: the cases under `ui-tests/fail` must fail with the
//! message in their `.stderr`, those under `ui-tests/pass` must compile. Refresh the expected
//! output with `TRYBUILD=overwrite cargo test --test ui` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/fail/*/*.rs");
    cases.pass("ui-tests/pass/*.rs");
}
