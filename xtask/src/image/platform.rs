//! The architectures Cephalo ships for, and their names in each ecosystem.

use std::fmt;

/// A target architecture of the release binaries and the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Arch {
    /// x86-64 (`linux/amd64`).
    Amd64,
    /// 64-bit ARM (`linux/arm64/v8`).
    Arm64,
}

impl Arch {
    /// Every shipped architecture, in publishing order.
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// The Rust target triple of the static binaries.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    /// Debian's (and the release tarballs') name: `amd64`, `arm64`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The OCI/Go `architecture` field.
    pub fn oci(self) -> &'static str {
        self.debian()
    }

    /// The OCI platform `variant`, if any.
    pub fn oci_variant(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => None,
            Arch::Arm64 => Some("v8"),
        }
    }

    /// docker-library's architecture name (bashbrew, arch-specific tags): `amd64`, `arm64v8`.
    pub fn bashbrew(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64v8",
        }
    }

    /// The OCI platform string, e.g. `linux/arm64/v8`.
    pub fn platform(self) -> String {
        match self.oci_variant() {
            Some(v) => format!("linux/{}/{v}", self.oci()),
            None => format!("linux/{}", self.oci()),
        }
    }

    /// The architecture of the machine running xtask, if it is a shipped one.
    pub fn native() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.debian())
    }
}

/// The `--arch` choice of the tasks: one architecture or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchChoice {
    /// linux/amd64 only.
    Amd64,
    /// linux/arm64/v8 only.
    Arm64,
    /// Both architectures.
    All,
}

impl ArchChoice {
    /// The architectures chosen.
    pub fn arches(self) -> Vec<Arch> {
        match self {
            ArchChoice::Amd64 => vec![Arch::Amd64],
            ArchChoice::Arm64 => vec![Arch::Arm64],
            ArchChoice::All => Arch::ALL.to_vec(),
        }
    }
}
