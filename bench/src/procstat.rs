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
