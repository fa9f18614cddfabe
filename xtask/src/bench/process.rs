//! Child processes of the bench: pinned to a CPU, logged to a file, and always stopped.
//!
//! A [`Running`] is a guard: dropping it (on success, on error, on panic) stops the process
//! and every descendant it had (nginx's worker, for one), first with SIGTERM, then SIGKILL.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::process::{kill_process, Pid, Signal};

/// What to start: a program with its arguments, environment and CPU.
pub struct Launch {
    /// Shown in progress lines and errors.
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The CPU list given to `taskset -c` (e.g. "1").
    pub cpu: String,
}

impl Launch {
    pub fn new(name: &str, program: impl Into<String>, cpu: &str) -> Self {
        Launch {
            name: name.to_string(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cpu: cpu.to_string(),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The `taskset` command line that runs this launch.
    pub fn command(&self) -> Command {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(&self.cpu)
            .arg(&self.program)
            .args(&self.args);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts the process with stdout and stderr written to `log` (emptied first).
    pub fn spawn(&self, log: &Path) -> Result<Running> {
        let out = File::create(log).with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program))?;
        Ok(Running {
            name: self.name.clone(),
            child: Some(child),
        })
    }
}

/// A started process; stopped (with its descendants) when dropped.
pub struct Running {
    name: String,
    child: Option<Child>,
}

impl Running {
    /// The process id (taskset has exec'd the program, so it is the program's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails when the process has already exited.
    pub fn ensure_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("{} exited early ({status})", self.name);
            }
        }
        Ok(())
    }

    /// Stops the process now (SIGTERM, then SIGKILL after 3 s) and its descendants.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let descendants = descendants(child.id());
        signal(child.id(), Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
        for pid in descendants {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, Signal::KILL);
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, signal);
    }
}

/// All descendants of `pid` (children, grandchildren, ...), from `/proc/*/task/*/children`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in text.split_whitespace().filter_map(|p| p.parse().ok()) {
                if !found.contains(&child) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    found
}

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&text, field)
}

/// Parses a `Field:   1234 kB` line of a `/proc/<pid>/status` text.
pub fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The sum of a memory field over a process and its descendants (nginx = master + worker).
pub fn tree_kib(pid: u32, field: &str) -> Option<u64> {
    let own = status_kib(pid, field)?;
    Some(
        own + descendants(pid)
            .into_iter()
            .filter_map(|p| status_kib(p, field))
            .sum::<u64>(),
    )
}

/// CPU time (user + system) a process has used so far, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&text)
}

/// CPU time of `pid` and all its descendants, in clock ticks.
pub fn tree_cpu_ticks(pid: u32) -> Option<u64> {
    let mut total = cpu_ticks(pid)?;
    for child in descendants(pid) {
        total += cpu_ticks(child).unwrap_or(0);
    }
    Some(total)
}

/// Parses utime + stime out of a `/proc/<pid>/stat` line (fields 14 and 15).
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run on).
pub const TICKS_PER_SECOND: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_in_kib() {
        let status =
            "Name:\tnginx\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(5120));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(4096));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        // A prefix of another field's name does not match it.
        assert_eq!(parse_status_kib(status, "Vm"), None);
    }

    #[test]
    fn stat_ticks_survive_spaces_in_the_name() {
        let stat =
            "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(281));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").unwrap() > 0);
        // The high-water mark only grows: read our own first, then the tree.
        let own = status_kib(me, "VmHWM").unwrap();
        assert!(tree_kib(me, "VmHWM").unwrap() >= own);
        assert!(cpu_ticks(me).is_some());
    }

    #[test]
    fn dropping_a_guard_stops_the_process_and_its_children() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let launch = Launch::new("sleeper", "sh", "0").args(["-c", "sleep 30 & sleep 30 & wait"]);
        let mut running = launch.spawn(&dir.join("log")).unwrap();
        running.ensure_alive().unwrap();
        let pid = running.pid();
        let deadline = Instant::now() + Duration::from_secs(2);
        while descendants(pid).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let children = descendants(pid);
        assert_eq!(children.len(), 2, "two sleeps under the shell");
        drop(running);
        std::thread::sleep(Duration::from_millis(50));
        for p in std::iter::once(pid).chain(children) {
            let state = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            assert!(
                state.is_empty() || state.contains(") Z"),
                "{p} still runs: {state}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
