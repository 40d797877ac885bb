#[path = "../../../fuzz/harness/at_session.rs"]
mod at_session;
#[test]
fn show() {
    let dir = std::path::PathBuf::from(std::env::var("DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/at_session").into()));
    let only = std::env::var("ONLY").unwrap_or_default();
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains(&only) { continue; }
        println!("===== {name}");
        let data = std::fs::read(&p).unwrap();
        let mut s = at_session::Session::new();
        println!("< {:?}", String::from_utf8_lossy(&s.take_output()));
        for op in at_session::decode(&data) {
            match &op {
                at_session::Op::Serial(b) | at_session::Op::SerialBytewise(b) => println!("> {:?}", String::from_utf8_lossy(b)),
                o => println!("! {o:?}"),
            }
            s.apply(&op);
            let o = s.take_output();
            if !o.is_empty() { println!("< {:?}", String::from_utf8_lossy(&o)); }
        }
    }
}
