//! Finds libweft and tells cargo how to link it (standard library only).
//!
//! In order:
//! 1. `WEFT_LIB_DIR` (and optionally `WEFT_INCLUDE_DIR`): link `-lweft` from
//!    that directory, with an rpath to it.
//! 2. `pkg-config --libs --cflags weft`, with this repository's
//!    `build/release/pkgconfig` appended to `PKG_CONFIG_PATH` when it exists.
//!    pkg-config prefers `weft-uninstalled.pc` there, which carries the rpath
//!    of the build tree, so test binaries run without `LD_LIBRARY_PATH`.
//!
//! `-L` becomes a link search path, `-l` a linked library, `-Wl,...` a link
//! argument, `-I` the include directory exported to dependents as
//! `DEP_WEFT_INCLUDE`.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in ["WEFT_LIB_DIR", "WEFT_INCLUDE_DIR", "PKG_CONFIG_PATH", "PKG_CONFIG"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());

    if let Ok(dir) = env::var("WEFT_LIB_DIR") {
        let dir = PathBuf::from(dir);
        if !dir.join("libweft.so").exists() && !dir.join("libweft.a").exists() {
            fail(&format!("WEFT_LIB_DIR={} has no libweft.so or libweft.a", dir.display()));
        }
        search(&dir.to_string_lossy());
        println!("cargo:rustc-link-lib=dylib=weft");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        println!("cargo:lib_dir={}", dir.display());
        let include = env::var("WEFT_INCLUDE_DIR").map(PathBuf::from).unwrap_or_else(|_| manifest.join("../../../abi"));
        println!("cargo:include={}", include.display());
        println!("cargo:rustc-env=WEFT_SYS_INCLUDE={}", include.display());
        return;
    }

    // The in-tree build (scripts/test.sh builds build/release first).
    let in_tree = manifest.join("../../../build/release/pkgconfig");
    let mut path = env::var("PKG_CONFIG_PATH").unwrap_or_default();
    if in_tree.join("weft-uninstalled.pc").exists() {
        let in_tree = in_tree.canonicalize().unwrap_or(in_tree);
        println!("cargo:rerun-if-changed={}", in_tree.join("weft-uninstalled.pc").display());
        if !path.is_empty() {
            path.push(':');
        }
        path.push_str(&in_tree.to_string_lossy());
    }
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(&pkg_config).args(["--libs", "--cflags", "weft"]).env("PKG_CONFIG_PATH", &path).output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => fail(&format!(
            "`{pkg_config} --libs --cflags weft` failed (PKG_CONFIG_PATH={path}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => fail(&format!("cannot run `{pkg_config}`: {e}")),
    };
    let flags = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut include = None;
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            search(dir);
            println!("cargo:lib_dir={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        } else if flag.starts_with("-Wl,") {
            println!("cargo:rustc-link-arg={flag}");
        } else if let Some(dir) = flag.strip_prefix("-I") {
            include.get_or_insert_with(|| dir.to_string());
        }
    }
    // installed under a standard prefix, pkg-config prints no -I
    let dir = include.or_else(|| env::var("WEFT_INCLUDE_DIR").ok()).unwrap_or_else(|| "/usr/include".into());
    println!("cargo:include={}", Path::new(&dir).display());
    // for this crate's layout test
    println!("cargo:rustc-env=WEFT_SYS_INCLUDE={}", Path::new(&dir).display());
}

/// Adds `dir` to the link search path, and a link to it inside OUT_DIR:
/// `cargo run` and `cargo test` put search paths that are inside the target
/// directory on the dynamic loader's path, for this crate's dependents too
/// (the rpath link argument only reaches this crate's own binaries).
fn search(dir: &str) {
    println!("cargo:rustc-link-search=native={dir}");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let link = out.join("weft-lib");
    let _ = std::fs::remove_file(&link);
    if std::os::unix::fs::symlink(dir, &link).is_ok() {
        println!("cargo:rustc-link-search=native={}", link.display());
    }
}

fn fail(why: &str) -> ! {
    eprintln!(
        "\nweft-sys: cannot find libweft: {why}\n\
         Either build it in this repository (cmake -S . -B build/release && \
         cmake --build build/release, which writes build/release/pkgconfig/weft-uninstalled.pc), \
         put the directory of weft.pc or weft-uninstalled.pc on PKG_CONFIG_PATH, \
         or set WEFT_LIB_DIR to the directory of libweft.so (and WEFT_INCLUDE_DIR to its headers).\n"
    );
    std::process::exit(1);
}
