//! Compiles c/steps.c (C step functions) into a static library with the
//! system C compiler, against the headers weft-sys found (DEP_WEFT_INCLUDE).
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=c/steps.c");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let include = env::var("DEP_WEFT_INCLUDE").expect("weft-sys exports DEP_WEFT_INCLUDE");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let obj = out.join("steps.o");
    let st = Command::new(&cc)
        .args(["-std=c11", "-O1", "-g", "-fPIC", "-Wall", "-Wextra", "-Werror", "-c", "c/steps.c", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("run the C compiler");
    assert!(st.success(), "compiling c/steps.c failed");
    let lib = out.join("libweft_interop_steps.a");
    let _ = std::fs::remove_file(&lib);
    let st = Command::new("ar").arg("crs").arg(&lib).arg(&obj).status().expect("run ar");
    assert!(st.success(), "ar failed");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=weft_interop_steps");
}
