//! Records the rustc version and the git revision for `--version` and `<exporter>_build_info`.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=EXPORTER_RUSTC_VERSION={version}");

    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned());
    if let Some(revision) = revision {
        println!("cargo:rustc-env=EXPORTER_REVISION={revision}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
