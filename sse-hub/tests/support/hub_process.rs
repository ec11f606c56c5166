//! The built `sse hub` binary, started on a free port.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running `sse hub` process, killed when dropped.
pub struct Hub {
    pub child: Child,
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Everything the hub logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Hub {
    /// Starts `sse hub --bind 127.0.0.1:0 ARGS` and waits for the line that
    /// announces its address.
    pub fn start(args: &[&str]) -> Hub {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sse"))
            .args([
                "hub",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--arbiters",
                "1",
            ])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning sse hub");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reading the hub's first line");
        let announced = line
            .trim()
            .strip_prefix("sse hub listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let (scheme, addr) = if let Some(addr) = announced.strip_prefix("https://") {
            ("https", addr)
        } else if let Some(addr) = announced.strip_prefix("http://") {
            ("http", addr)
        } else {
            panic!("unexpected first line {line:?}")
        };
        let addr = addr.parse().expect("an address");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Hub {
            child,
            addr,
            scheme,
            log,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path_and_query)
    }

    /// The hub's resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
