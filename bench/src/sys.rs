//! Process accounting read from `/proc`: resident memory, CPU time, load.
//!
//! `/proc/PID/stat` gives the same user and system times as `getrusage`, for
//! any process (so also for the server under test) and without `unsafe`.

use std::fs;

/// Linux reports `/proc/PID/stat` times in USER_HZ ticks, fixed at 100 by
/// the kernel ABI whatever the internal timer frequency.
const USER_HZ: f64 = 100.0;

/// Resident set size of a process in KiB (`VmRSS`), `None` if it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Summed resident memory of several processes (nginx master and workers).
pub fn total_rss_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| rss_kib(p)).sum()
}

/// User plus system CPU seconds consumed so far by a process, all threads.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU seconds of this process.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds("self").unwrap_or(0.0)
}

/// Summed CPU seconds of several processes.
pub fn total_cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_seconds(&p.to_string())).sum()
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> [f64; 3] {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text.split(' ').map(|v| v.parse().unwrap_or(0.0));
    [
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
    ]
}

/// Raises the soft open-file limit to the hard one, returning the new soft
/// limit: each subscriber is a socket, and the default soft limit (often
/// 1024) is far below what a fan-out test needs.
pub fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert!(cpu_seconds("self").is_some());
        assert!(raise_nofile_limit() > 0);
    }
}
