//! Runs every golden transcript in `tests/transcripts/` against the core
//! with a fake clock: time only moves when the transcript says so, or when
//! an expectation is waiting for output and the module has a deadline.

#[path = "../../../tests/transcript_format.rs"]
mod transcript_format;

use transcript_format::{escape, Step};
use wsat_core::mfg::MfgNvs;
use wsat_core::settings::Settings;
use wsat_core::wifi::radio::Radio;
use wsat_core::{Action, Config, Duration, Instant, Module, Store, VersionInfo};

/// A module plus its "flash", driven by a fake clock.
struct Rig {
    module: Module,
    now: Instant,
    out: Vec<u8>,
    flash_settings: Option<Settings>,
    flash_mfg: MfgNvs,
}

impl Rig {
    fn new() -> Rig {
        let now = Instant::from_millis(1_000);
        // A fresh module's NVS holds its factory parameters, as the
        // binary's does.
        let mut mfg = MfgNvs::new();
        mfg.add_factory_param();
        let module = Module::new(config(None, mfg.clone()), now);
        let mut rig = Rig { module, now, out: Vec::new(), flash_settings: None, flash_mfg: mfg };
        rig.drain();
        rig
    }

    /// Moves output and actions out of the module, as a runtime would.
    fn drain(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            let n = self.module.poll_serial(&mut buf);
            if n == 0 {
                break;
            }
            self.out.extend_from_slice(&buf[..n]);
        }
        while let Some(a) = self.module.poll_action() {
            match a {
                Action::Persist(Store::Settings) => self.flash_settings = Some(self.module.stored_settings().clone()),
                Action::Persist(Store::Mfg) => self.flash_mfg = self.module.mfg().clone(),
                // Transcripts here use no links; the runtime tests cover them.
                _ => {}
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(t) = self.module.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.module.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    /// Jumps to the next deadline; false if there is none within a minute.
    fn step(&mut self) -> bool {
        match self.module.poll_timeout() {
            Some(t) if t <= self.now + Duration::from_secs(60) => {
                self.now = t.max(self.now);
                self.module.handle_timeout(self.now);
                self.drain();
                true
            }
            _ => false,
        }
    }
}

fn config(settings: Option<Settings>, mfg: MfgNvs) -> Config {
    Config {
        version: VersionInfo { version: env!("CARGO_PKG_VERSION").into(), build: std::env::consts::ARCH.into() },
        settings,
        mfg,
        radio: Radio::Permissive,
        seed: 7,
        clock_source: Default::default(),
        flash: None,
        regex: Some(wsat_core::module::RegexEngineRef(std::rc::Rc::new(Engine))),
    }
}

/// The runtime's regex engine, as `crates/wsat` lends it.
struct Engine;
struct Compiled(regex::bytes::Regex);

impl wsat_core::commands::sysmsgfilter::RegexEngine for Engine {
    fn compile(&self, pattern: &str) -> Option<Box<dyn wsat_core::commands::sysmsgfilter::Pattern>> {
        Some(Box::new(Compiled(regex::bytes::Regex::new(pattern).ok()?)))
    }
}

impl wsat_core::commands::sysmsgfilter::Pattern for Compiled {
    fn find(&self, hay: &[u8]) -> Option<(usize, usize)> {
        self.0.find(hay).map(|m| (m.start(), m.end()))
    }
}

fn run(name: &str, text: &str) {
    let mut rig = Rig::new();
    for (i, step) in transcript_format::parse(text, env!("CARGO_PKG_VERSION")).into_iter().enumerate() {
        match step {
            Step::Send(bytes) => {
                rig.module.handle_serial(&bytes, rig.now);
                rig.drain();
            }
            Step::Wait(ms) => rig.advance(ms),
            Step::Restart => {
                rig.now += Duration::from_millis(500);
                rig.module = Module::new(config(rig.flash_settings.clone(), rig.flash_mfg.clone()), rig.now);
                rig.out.clear();
                rig.drain();
            }
            Step::Expect(want) => {
                while rig.out.len() < want.len() && rig.step() {}
                let got: Vec<u8> = rig.out.drain(..want.len().min(rig.out.len())).collect();
                assert_eq!(
                    escape(&got),
                    escape(&want),
                    "{name}: step {}: output differs (then pending: {})",
                    i + 1,
                    escape(&rig.out)
                );
            }
        }
    }
    // Let the module settle: nothing unexpected may follow.
    while rig.step() {}
    assert!(rig.out.is_empty(), "{name}: unexpected trailing output: {}", escape(&rig.out));
}

#[test]
fn golden_transcripts() {
    let all = transcript_format::all();
    assert!(!all.is_empty());
    for (name, text) in all {
        run(&name, &text);
    }
}

/// Sends one command line and returns what the module answered.
fn command(rig: &mut Rig, line: &[u8]) -> Vec<u8> {
    rig.module.handle_serial(line, rig.now);
    rig.drain();
    while !(rig.out.ends_with(b"OK\r\n") || rig.out.ends_with(b"ERROR\r\n") || rig.out.ends_with(b">")) && rig.step() {}
    std::mem::take(&mut rig.out)
}

/// What a host can make the module keep is bounded: AT+SYSREG's register
/// file and AT+SYSMSGFILTERCFG's filters refuse more with ERROR, and the
/// ones already there still work.
#[test]
fn host_held_state_is_bounded() {
    use wsat_core::commands::{sysmsgfilter::MAX_FILTERS, system::MAX_REGISTERS};
    let mut rig = Rig::new();
    rig.out.clear();
    command(&mut rig, b"ATE0\r\n");
    for i in 0..MAX_REGISTERS {
        assert_eq!(command(&mut rig, format!("AT+SYSREG=1,{},7\r\n", 4 * i).as_bytes()), b"\r\nOK\r\n", "register {i}");
    }
    let past = 4 * MAX_REGISTERS;
    assert_eq!(command(&mut rig, format!("AT+SYSREG=1,{past},7\r\n").as_bytes()), b"\r\nERROR\r\n");
    assert_eq!(command(&mut rig, b"AT+SYSREG=1,0,9\r\n"), b"\r\nOK\r\n", "an existing register is still writable");
    assert_eq!(command(&mut rig, b"AT+SYSREG=0,0\r\n"), b"+SYSREG:0x00000009\r\n\r\nOK\r\n");
    for i in 0..MAX_FILTERS {
        assert_eq!(command(&mut rig, b"AT+SYSMSGFILTERCFG=1,3,0\r\n"), b"\r\nOK\r\n\r\n>");
        assert_eq!(command(&mut rig, format!("^{:02}", i).as_bytes()), b"\r\nOK\r\n", "filter {i}");
    }
    assert_eq!(command(&mut rig, b"AT+SYSMSGFILTERCFG=1,3,0\r\n"), b"\r\nOK\r\n\r\n>");
    assert_eq!(command(&mut rig, b"^zz"), b"\r\nERROR\r\n", "one filter too many");
    assert_eq!(command(&mut rig, b"AT+SYSMSGFILTERCFG=0\r\n"), b"\r\nOK\r\n");
}
