//! CPU time and memory of a process, from /proc (Linux).

use std::time::Duration;

/// CPU time (user + system) of every thread of `pid` ("self" for this
/// process), from the schedulers' nanosecond counters
/// (/proc/PID/task/*/schedstat), which are much finer than clock ticks.
/// Threads that have already exited are not counted, so measure
/// processes whose threads live as long as they do.
pub fn cpu_time(pid: &str) -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// A `/proc/PID/status` field in KiB (`VmHWM` is the peak resident set).
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (utime + stime) of `pid` from /proc/PID/stat, in clock
/// ticks (`getconf CLK_TCK`, 100 on Linux): coarse, but what `top` and
/// `ps` report, and it counts threads that have exited.
pub fn stat_cpu(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name is in parentheses and may hold spaces: fields
    // count from the last `)`; utime and stime are fields 14 and 15.
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / clk_tck()
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Tasks pinned to one CPU with taskset(1) while this lives; their
/// previous CPU lists come back on drop. The bench's own main thread is
/// one of them, so the processes it starts meanwhile inherit the pin.
pub struct Pinned {
    /// (pid or thread id, previous CPU list, all threads).
    tasks: Vec<(String, String, bool)>,
}

impl Pinned {
    /// Pins the bench's main thread and every thread of `others` to `cpu`.
    pub fn new(cpu: &str, others: &[&str]) -> anyhow::Result<Pinned> {
        let mut p = Pinned { tasks: Vec::new() };
        let me = std::process::id().to_string();
        for (pid, all) in std::iter::once((me.as_str(), false)).chain(others.iter().map(|o| (*o, true))) {
            let before = taskset(pid, None, false)?;
            taskset(pid, Some(cpu), all)?;
            p.tasks.push((pid.to_string(), before, all));
        }
        Ok(p)
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        for (pid, before, all) in &self.tasks {
            let _ = taskset(pid, Some(before), *all);
        }
    }
}

/// `taskset -c -p [-a] [cpus] pid`: sets the CPU list if given; returns
/// the list it reports (the new one, or the current one).
fn taskset(pid: &str, cpus: Option<&str>, all: bool) -> anyhow::Result<String> {
    let mut cmd = std::process::Command::new("taskset");
    if all {
        cmd.arg("-a");
    }
    cmd.args(["-c", "-p"]);
    if let Some(c) = cpus {
        cmd.arg(c);
    }
    let out = cmd.arg(pid).output().map_err(|e| anyhow::anyhow!("taskset: {e}"))?;
    if !out.status.success() {
        anyhow::bail!("taskset failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    Ok(last.rsplit(": ").next().unwrap_or_default().trim().to_string())
}
