//! `docs/commands.md` is generated from the command table; this test fails
//! when the two drift apart. Regenerate with
//! `cargo run -p wsat -- --command-reference > docs/commands.md`
//! (or run this test with `WSAT_BLESS=1`).

use wsat_core::at::table::reference_markdown;
use wsat_core::commands::COMMANDS;

#[test]
fn docs_command_list_matches_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands.md");
    let want = reference_markdown(COMMANDS);
    if std::env::var_os("WSAT_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/commands.md is out of date: run `cargo run -p wsat -- --command-reference > docs/commands.md`"
    );
}
