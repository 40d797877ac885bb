//! The README's "Testing host firmware with wsat" example
//! (`tests/python/test_host_firmware_example.py`) runs as written, with
//! pytest, against this build of wsat.

mod common;

#[test]
fn the_readme_pytest_example_passes() {
    let out = std::process::Command::new(common::python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(common::workspace_tests().join("python/test_host_firmware_example.py"))
        .env("WSAT", env!("CARGO_BIN_EXE_wsat"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pytest failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
