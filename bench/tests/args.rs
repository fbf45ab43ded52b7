//! The benchmark's command line: bad arguments are refused at once with a clear message,
//! before any measuring starts.

use std::process::Command;

fn bench(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dify-plugin-bench"))
        .args(args)
        .output()
        .expect("run dify-plugin-bench");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

#[test]
fn a_json_file_in_a_missing_folder_is_refused_before_measuring() {
    let (code, stderr) = bench(&["--json", "no-such-folder/x.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "dify-plugin-bench: --json no-such-folder/x.json: the folder no-such-folder does not exist"
    );
}

#[test]
fn a_bad_number_is_named() {
    let (code, stderr) = bench(&["--chunks", "many"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "dify-plugin-bench: expected --chunks N, got 'many'");
}
