//! Dropping root for good: supplementary groups, then gid, then uid, then proof that the
//! drop took.
//!
//! nix's `setgroups`/`setgid`/`setuid` call libc, whose set*id functions act on the whole
//! process (musl and glibc both broadcast them to every thread), unlike the raw per-thread
//! system calls. The shim has a single thread anyway: it starts none and execs right after.

use std::fmt;

use nix::errno::Errno;
use nix::unistd::{getgroups, getresgid, getresuid, setgid, setgroups, setuid, Gid, Uid};

use crate::decision::Identity;

/// A step of the drop that failed, with the system error.
#[derive(Debug)]
pub struct DropError {
    step: &'static str,
    detail: String,
}

impl fmt::Display for DropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot drop privileges: {}: {}", self.step, self.detail)
    }
}

/// Switches the process to `identity` (groups, then gid, then uid) and checks that it
/// holds no trace of root afterwards.
pub fn drop_to(identity: &Identity) -> Result<(), DropError> {
    let uid = Uid::from_raw(identity.uid);
    let gid = Gid::from_raw(identity.gid);
    let groups: Vec<Gid> = identity.groups.iter().copied().map(Gid::from_raw).collect();

    setgroups(&groups).map_err(|e| failed("setgroups", e))?;
    setgid(gid).map_err(|e| failed("setgid", e))?;
    setuid(uid).map_err(|e| failed("setuid", e))?;
    verify(uid, gid, &groups)
}

fn verify(uid: Uid, gid: Gid, groups: &[Gid]) -> Result<(), DropError> {
    let ids = getresuid().map_err(|e| failed("getresuid", e))?;
    if [ids.real, ids.effective, ids.saved] != [uid; 3] {
        return Err(mismatch(
            "uid",
            format!("real/effective/saved are {ids:?}, expected {uid}"),
        ));
    }
    let gids = getresgid().map_err(|e| failed("getresgid", e))?;
    if [gids.real, gids.effective, gids.saved] != [gid; 3] {
        return Err(mismatch(
            "gid",
            format!("real/effective/saved are {gids:?}, expected {gid}"),
        ));
    }
    let mut held: Vec<u32> = getgroups()
        .map_err(|e| failed("getgroups", e))?
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    let mut wanted: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
    held.sort_unstable();
    wanted.sort_unstable();
    wanted.dedup();
    if held != wanted {
        return Err(mismatch(
            "groups",
            format!("holding {held:?}, expected {wanted:?}"),
        ));
    }
    match setuid(Uid::from_raw(0)) {
        Err(Errno::EPERM) => Ok(()),
        Err(e) => Err(failed("regaining root (expected EPERM)", e)),
        Ok(()) => Err(mismatch("uid", "root could be regained".to_string())),
    }
}

fn failed(step: &'static str, errno: Errno) -> DropError {
    DropError {
        step,
        detail: errno.desc().to_string(),
    }
}

fn mismatch(step: &'static str, detail: String) -> DropError {
    DropError { step, detail }
}
