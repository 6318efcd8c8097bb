//! End-to-end tests of `soru proof verify-outbox` on the real octez output proofs in
//! `../shared/vectors/tezos-output-proofs/` (read at run time, skipped when absent).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn soru(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soru"))
        .args(args)
        .output()
        .expect("the soru binary runs")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

fn vectors_dir() -> Option<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/tezos-output-proofs");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: output proof vectors not found at {} (they live beside the repository)",
            dir.display()
        );
        None
    }
}

/// One vector file: the proof, its expected results and, for some, a corrupted twin.
struct Vector {
    name: String,
    proof_hex: String,
    corrupted_hex: Option<String>,
    srs1: String,
    root_hex: String,
    layout: String,
    outbox_level: u64,
    message_index: u64,
    message_hex: String,
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| line[i + marker.len()..].trim())
}

fn parse_vector(path: &Path) -> Vector {
    let text = std::fs::read_to_string(path).unwrap();
    let mut v = Vector {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        proof_hex: String::new(),
        corrupted_hex: None,
        srs1: String::new(),
        root_hex: String::new(),
        layout: String::new(),
        outbox_level: u64::MAX,
        message_index: u64::MAX,
        message_hex: String::new(),
    };
    for line in text.lines() {
        if let Some(hex) = line.strip_prefix("output_proof_hex=") {
            v.proof_hex = hex.trim().to_owned();
        } else if let Some(hex) = line.strip_prefix("corrupted_output_proof_hex=") {
            v.corrupted_hex = Some(hex.trim().to_owned());
        } else if let Some(rest) = after(line, "# expected srs1") {
            v.srs1 = rest.rsplit(' ').next().unwrap().to_owned();
        } else if let Some(rest) = after(line, "before == after == ") {
            v.root_hex = rest.to_owned();
        } else if let Some(rest) = after(line, "# layout: ") {
            v.layout = rest.split_whitespace().next().unwrap().to_owned();
        } else if let Some(rest) = after(line, "# expected output: ") {
            for field in rest.split_whitespace() {
                if let Some(n) = field.strip_prefix("outbox_level=") {
                    v.outbox_level = n.parse().unwrap();
                } else if let Some(n) = field.strip_prefix("message_index=") {
                    v.message_index = n.parse().unwrap();
                }
            }
        } else if let Some(rest) = after(line, "# expected message") {
            v.message_hex = rest.rsplit(' ').next().unwrap().to_owned();
        }
    }
    assert!(
        !v.proof_hex.is_empty()
            && v.srs1.starts_with("srs1")
            && v.root_hex.len() == 64
            && v.outbox_level != u64::MAX
            && !v.message_hex.is_empty(),
        "vector {} lacks an expected field",
        v.name
    );
    v
}

fn vectors() -> Vec<Vector> {
    let Some(dir) = vectors_dir() else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no vector files in {}", dir.display());
    paths.iter().map(|p| parse_vector(p)).collect()
}

fn assert_valid(v: &Vector, output: &Output) {
    assert!(
        output.status.success(),
        "{}: exit {:?}, stdout {}, stderr {}",
        v.name,
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json = stdout_json(output);
    assert_eq!(json["valid"], true, "{}", v.name);
    assert_eq!(json["outbox_level"], v.outbox_level, "{}", v.name);
    assert_eq!(json["message_index"], v.message_index, "{}", v.name);
    assert_eq!(json["message"], v.message_hex.as_str(), "{}", v.name);
}

fn assert_invalid(what: &str, output: &Output) {
    assert_eq!(output.status.code(), Some(1), "{what}: {output:?}");
    let json = stdout_json(output);
    assert_eq!(json["valid"], false, "{what}");
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: no error reason in {json}"
    );
}

#[test]
fn real_proofs_verify_against_srs1_and_hex_state_hashes() {
    for v in vectors() {
        assert_valid(
            &v,
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &v.proof_hex,
                "--state-hash",
                &v.srs1,
            ]),
        );
        assert_valid(
            &v,
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &v.proof_hex,
                "--state-hash",
                &v.root_hex,
                "--layout",
                &v.layout,
            ]),
        );
    }
}

#[test]
fn proofs_are_read_from_hex_and_binary_files() {
    let dir = std::env::temp_dir().join(format!("soru-cli-proof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for v in vectors() {
        let hex_file = dir.join(format!("{}.hex", v.name));
        // Line-wrapped, as people paste it.
        let wrapped: String = v
            .proof_hex
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        std::fs::write(&hex_file, wrapped).unwrap();
        let bin_file = dir.join(format!("{}.bin", v.name));
        std::fs::write(&bin_file, hex::decode(&v.proof_hex).unwrap()).unwrap();
        for file in [&hex_file, &bin_file] {
            assert_valid(
                &v,
                &soru(&[
                    "proof",
                    "verify-outbox",
                    "--proof",
                    file.to_str().unwrap(),
                    "--state-hash",
                    &v.srs1,
                ]),
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_state_hash_wrong_layout_and_corrupted_proofs_are_rejected() {
    for v in vectors() {
        let mut other_root = hex::decode(&v.root_hex).unwrap();
        other_root[31] ^= 1;
        assert_invalid(
            &format!("{} against a different state hash", v.name),
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &v.proof_hex,
                "--state-hash",
                &hex::encode(other_root),
            ]),
        );
        let wrong_layout = if v.layout == "obj3" { "obj2" } else { "obj3" };
        assert_invalid(
            &format!("{} read with layout {wrong_layout}", v.name),
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &v.proof_hex,
                "--state-hash",
                &v.srs1,
                "--layout",
                wrong_layout,
            ]),
        );
        let mut truncated = v.proof_hex.clone();
        truncated.truncate(truncated.len() / 4 * 2); // whole bytes
        assert_invalid(
            &format!("{} truncated", v.name),
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &truncated,
                "--state-hash",
                &v.srs1,
            ]),
        );
        if let Some(corrupted) = &v.corrupted_hex {
            assert_invalid(
                &format!("{} corrupted form", v.name),
                &soru(&[
                    "proof",
                    "verify-outbox",
                    "--proof",
                    corrupted,
                    "--state-hash",
                    &v.srs1,
                ]),
            );
        }
    }
}

fn assert_unreadable(output: &Output, expected_in_stderr: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout for unreadable input"
    );
    assert!(
        stderr.contains(expected_in_stderr),
        "stderr should mention {expected_in_stderr:?}: {stderr}"
    );
}

#[test]
fn unreadable_input_exits_2_and_says_why() {
    let state = "00".repeat(32);
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            "/no/such/proof.hex",
            "--state-hash",
            &state,
        ]),
        "/no/such/proof.hex",
    );
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            "0300zz",
            "--state-hash",
            &state,
        ]),
        "invalid hex character 'z'",
    );
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            "0300",
            "--state-hash",
            "srs1notbase58!",
        ]),
        "--state-hash",
    );
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            "0300",
            "--state-hash",
            "abcd",
        ]),
        "32 bytes",
    );
    // An empty proof is unreadable input, not an invalid proof.
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            "",
            "--state-hash",
            &state,
        ]),
        "the proof is empty",
    );
    let dir =
        std::env::temp_dir().join(format!("soru-cli-proof-unreadable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            d,
            "--state-hash",
            &state,
        ]),
        "is a directory, not a file",
    );
    let empty = dir.join("empty.hex");
    std::fs::write(&empty, "").unwrap();
    assert_unreadable(
        &soru(&[
            "proof",
            "verify-outbox",
            "--proof",
            empty.to_str().unwrap(),
            "--state-hash",
            &state,
        ]),
        "the proof is empty",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One bad character in a hex proof file is reported where it is (it used to make the file
/// read as raw bytes: "unknown proof tag 0x30"); forcing obj2 on an obj3 proof says so (it used
/// to report an outbox level of 646076871 outside the validity window).
#[test]
fn typos_and_the_wrong_layout_get_precise_errors() {
    let dir = std::env::temp_dir().join(format!("soru-cli-proof-typos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for v in vectors() {
        let mut typo = v.proof_hex.clone();
        typo.replace_range(10..11, "g");
        let file = dir.join(format!("{}.hex", v.name));
        std::fs::write(&file, format!("{typo}\n")).unwrap();
        assert_unreadable(
            &soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                file.to_str().unwrap(),
                "--state-hash",
                &v.srs1,
            ]),
            "invalid hex character 'g' at character 10",
        );
        if v.layout == "obj3" {
            let output = soru(&[
                "proof",
                "verify-outbox",
                "--proof",
                &v.proof_hex,
                "--state-hash",
                &v.srs1,
                "--layout",
                "obj2",
            ]);
            assert_eq!(output.status.code(), Some(1), "{}", v.name);
            let error = stdout_json(&output)["error"].as_str().unwrap().to_owned();
            assert!(error.contains("the proof is in the obj3 layout"), "{error}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
