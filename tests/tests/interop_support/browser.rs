//! Headless Chromium driven by the browser tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Headless Chromium showing a page, killed when dropped.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens `url` in a fresh profile.
    pub fn open(chromium: &Path, url: &str) -> Browser {
        Browser::open_with(chromium, url, &[])
    }

    /// Opens `url` with extra command-line flags.
    pub fn open_with(chromium: &Path, url: &str, flags: &[&str]) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--disable-extensions",
            ])
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromium");
        Browser {
            child,
            _profile: profile,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SIGTERM lets Chromium end its helper processes; SIGKILL would
        // orphan them. SIGKILL only if it does not exit in time.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
