//! `cairn ui`: the dashboard served by the built binary over a data directory, opened as a
//! client only, reached over a real socket; and the refusal of a non-loopback address
//! without a token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::fixture::DataDir;

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request; returns the status line and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.lines().next().unwrap_or("").to_owned();
    let body = reply
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn ui_serves_the_data_directory_and_takes_an_answer() {
    let dir = DataDir::new();
    let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "--dir",
            dir.path.to_str().unwrap(),
            "ui",
            "--bind",
            "127.0.0.1:0",
        ])
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_UI_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let (status, body) = http(&addr, "GET", "/api/runs?status=waiting", &[], "");
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains(&format!("\"id\":{}", dir.approval)), "{body}");

    let (_, page) = http(&addr, "GET", "/", &[], "");
    let marker = "name=\"csrf-token\" content=\"";
    let start = page.find(marker).expect("the page embeds its CSRF token") + marker.len();
    let csrf = &page[start..start + 64];
    let answer = format!("/api/runs/{}/answer", dir.approval);
    let json = [("Content-Type", "application/json")];
    let (refused, _) = http(&addr, "POST", &answer, &json, r#"{"answer":"approved"}"#);
    assert!(refused.contains("403"), "{refused}");
    let headers = [("Content-Type", "application/json"), ("X-Cairn-Csrf", csrf)];
    let (status, body) = http(&addr, "POST", &answer, &headers, r#"{"answer":"approved"}"#);
    assert!(status.contains("200"), "{status} {body}");
    drop(server);
    // Committed by the client-only process: the question is answered on disk.
    let shown = dir.cairn(&["questions", "--json"]).json();
    let waiting: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["run"].as_u64().unwrap())
        .collect();
    assert_eq!(waiting, [dir.choice.0], "only the choice is left: {shown}");
}

#[test]
fn ui_refuses_a_non_loopback_address_without_a_token() {
    let dir = DataDir::new();
    let error = dir.cairn(&["ui", "--bind", "0.0.0.0:0"]).error(1);
    assert!(error.contains("--token"), "{error}");
}
