//! The state directory: persistent settings and the manufacturing NVS.
//!
//! Two JSON files, `settings.json` (what AT+SYSSTORE and friends save) and
//! `mfg_nvs.json` (the AT+SYSMFG partition). Every write is crash-safe: the
//! new content goes to a temporary file in the same directory, is synced,
//! and is renamed over the old file (atomic on POSIX), then the directory is
//! synced. A kill at any moment leaves the old or the new file, never a
//! torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wsat_core::mfg::MfgNvs;
use wsat_core::settings::Settings;

const SETTINGS: &str = "settings.json";
const MFG: &str = "mfg_nvs.json";
const FLASH: &str = "fs_storage.bin";

/// An open state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens (creating if needed) `dir`.
    pub fn open(dir: &Path) -> Result<StateDir> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create state directory {}", dir.display()))?;
        // A process killed while writing leaves its temporary file; the
        // store it was replacing is intact, so the leftover goes.
        for entry in fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(StateDir { dir: dir.to_path_buf() })
    }

    /// The default directory: `$XDG_STATE_HOME/wsat`, else
    /// `~/.local/state/wsat`, else `./.wsat-state`.
    pub fn default_path() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("wsat");
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/state/wsat"),
            None => PathBuf::from(".wsat-state"),
        }
    }

    /// Where the directory is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The stored settings, if any were saved.
    pub fn load_settings(&self) -> Result<Option<Settings>> {
        self.load(SETTINGS)
    }

    /// The manufacturing NVS (empty if never written).
    pub fn load_mfg(&self) -> Result<MfgNvs> {
        Ok(self.load(MFG)?.unwrap_or_default())
    }

    /// Saves the settings.
    pub fn save_settings(&self, s: &Settings) -> Result<()> {
        self.save(SETTINGS, s)
    }

    /// Saves the manufacturing NVS.
    pub fn save_mfg(&self, m: &MfgNvs) -> Result<()> {
        self.save(MFG, m)
    }

    /// The `fs_storage` user partition (AT+SYSFLASH), if ever written.
    pub fn load_flash(&self) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(FLASH);
        match fs::read(&path) {
            Ok(bytes) if bytes.len() == wsat_core::commands::sysflash::FS_STORAGE_SIZE => Ok(Some(bytes)),
            Ok(bytes) => bail!(
                "{} is {} bytes; the fs_storage partition is {} (delete the file to start with an erased partition)",
                path.display(),
                bytes.len(),
                wsat_core::commands::sysflash::FS_STORAGE_SIZE
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the `fs_storage` partition.
    pub fn save_flash(&self, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(FLASH), bytes)
    }

    fn load<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is not a valid wsat state file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn save<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)?;
        write_atomic(&self.dir.join(name), &bytes)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new
/// content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    // Private to this user: the state holds Wi-Fi passwords and keys.
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)
    }
    .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename is durable only once the directory entry is.
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let st = StateDir::open(&tmp.path().join("nested/state")).unwrap();
        assert_eq!(st.load_settings().unwrap(), None);
        assert_eq!(st.load_mfg().unwrap(), MfgNvs::new());
        let s = Settings { wifi_mode: 3, ..Settings::default() };
        st.save_settings(&s).unwrap();
        assert_eq!(st.load_settings().unwrap(), Some(s));
        let mut m = MfgNvs::new();
        m.set("wss_ca", "wss_ca.0", wsat_core::mfg::MfgValue::Bin(vec![0, 1, 255]));
        st.save_mfg(&m).unwrap();
        assert_eq!(st.load_mfg().unwrap(), m);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(st.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn stale_temporary_files_are_removed_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(".settings.json.tmp-4242"), b"half").unwrap();
        fs::write(tmp.path().join("keep.txt"), b"x").unwrap();
        let st = StateDir::open(tmp.path()).unwrap();
        let names: Vec<_> = fs::read_dir(st.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keep.txt")]);
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let st = StateDir::open(tmp.path()).unwrap();
        fs::write(tmp.path().join(SETTINGS), b"{not json").unwrap();
        let err = format!("{:#}", st.load_settings().unwrap_err());
        assert!(err.contains("not a valid wsat state file"), "{err}");
    }

    #[test]
    fn fs_storage_round_trip_and_a_wrong_size() {
        let tmp = tempfile::tempdir().unwrap();
        let st = StateDir::open(tmp.path()).unwrap();
        assert_eq!(st.load_flash().unwrap(), None);
        let mut part = wsat_core::commands::sysflash::blank_fs_storage();
        part[7] = 0x42;
        st.save_flash(&part).unwrap();
        assert_eq!(st.load_flash().unwrap(), Some(part));
        fs::write(tmp.path().join(FLASH), b"short").unwrap();
        let err = format!("{:#}", st.load_flash().unwrap_err());
        assert!(err.contains("is 5 bytes; the fs_storage partition is 102400"), "{err}");
    }
}
