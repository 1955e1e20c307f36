//! Tests of the built `cairn` binary: each one makes a data directory with real runs (test
//! workflows run by a real `Runtime`, shut down), runs the binary on it as a child process,
//! and checks what a person or a script gets: the table, the JSON, the exit code, and the
//! one-line error of each failure.

mod controlling;
mod dashboard;
mod drawing;
mod errors;
mod fixture;
mod inspecting;
mod layouts;
mod operating;
mod sending;
mod watching;
