//! Invoke one Lambda function binary locally, without Docker: start it behind the Runtime API
//! emulator, hand it one event file, print its response.
//!
//! `invoke <function> <event.json> [NAME=VALUE ...]` — each `{{NAME}}` in the event file is
//! replaced by VALUE. The function runs with this process's environment (TABLE_NAME,
//! AWS_ENDPOINT_URL_DYNAMODB, credentials…); binaries come from `target/debug` or, with
//! `RUNTYPE_BIN_DIR`, from another directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use runtype_tests::runtime_api::{binaries_dir, spawn_function, Outcome, RuntimeApi};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(function), Some(event_path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: invoke <function> <event.json> [NAME=VALUE ...]");
        return ExitCode::from(2);
    };
    let mut text = match std::fs::read_to_string(event_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("invoke: cannot read {event_path}: {e}");
            return ExitCode::from(2);
        }
    };
    for var in &args[2..] {
        let Some((name, value)) = var.split_once('=') else {
            eprintln!("invoke: {var:?} is not NAME=VALUE");
            return ExitCode::from(2);
        };
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    let event: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("invoke: {event_path} is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::var_os("RUNTYPE_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(binaries_dir);
    let binary = dir.join(function);
    if !binary.exists() {
        eprintln!(
            "invoke: {} not found (cargo build -p {function})",
            binary.display()
        );
        return ExitCode::from(1);
    }
    let api = RuntimeApi::start().await;
    let mut child = spawn_function(&binary, &api, &[]);
    let id = api.push(event);
    let outcome = api.outcome(&id, Duration::from_secs(60)).await;
    let _ = child.kill();
    let _ = child.wait();
    match outcome {
        Some((Outcome::Response(v), t)) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            eprintln!(
                "invoke: answered in {:.1} ms",
                (t.answered - t.handed_out).as_secs_f64() * 1000.0
            );
            ExitCode::SUCCESS
        }
        Some((Outcome::Error(v), _)) => {
            eprintln!("invoke: the function failed: {v}");
            ExitCode::from(1)
        }
        None => {
            eprintln!("invoke: no answer within 60 s");
            ExitCode::from(1)
        }
    }
}
