//! The generated `src/ffi.rs` against the C compiler's view of `weft.h`:
//! every enum constant has the same value, and every enum type the same
//! size and signedness.  A small C program is generated from the constants
//! found in ffi.rs, compiled with `cc` and run.  (generate.sh --check
//! separately proves ffi.rs is what bindgen makes of the header today.)
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// An enum module of ffi.rs: its name, its Rust `Type`, its constants.
type Enum = (String, String, Vec<(String, i64)>);

/// The enum modules of ffi.rs.
fn parse_ffi() -> Vec<Enum> {
    let src = include_str!("../src/ffi.rs");
    let mut out = Vec::new();
    let mut cur: Option<Enum> = None;
    for line in src.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("pub mod ") {
            cur = Some((rest.trim_end_matches(" {").to_string(), String::new(), Vec::new()));
        } else if let Some(c) = cur.as_mut() {
            if let Some(ty) = t.strip_prefix("pub type Type = ") {
                c.1 = ty.trim_end_matches(';').rsplit("::").next().unwrap().to_string();
            } else if let Some(rest) = t.strip_prefix("pub const ") {
                let (name, v) = rest.split_once(": Type = ").expect("constant line");
                c.2.push((name.to_string(), v.trim_end_matches(';').parse().expect("integer")));
            } else if t == "}" {
                out.push(cur.take().unwrap());
            }
        }
    }
    out
}

#[test]
fn constants_and_enum_layout_match_the_header() {
    let enums = parse_ffi();
    let count: usize = enums.iter().map(|e| e.2.len()).sum();
    assert!(enums.len() >= 8 && count >= 100, "parsed {} enums, {count} constants", enums.len());
    let mut c = String::from("#include <stdio.h>\n#include <weft.h>\nint main(void) {\n");
    for (name, _, consts) in &enums {
        c += &format!("  printf(\"sizeof {name} %zu %d\\n\", sizeof(enum {name}), (int)((enum {name})-1 < 0));\n");
        for (k, _) in consts {
            c += &format!("  printf(\"const {k} %lld\\n\", (long long){k});\n");
        }
    }
    c += "  return 0;\n}\n";
    // one directory per process: a second run of this test at the same
    // time (another cargo test, valgrind) must not exec the program while
    // its compiler is writing it (ETXTBSY)
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("weft-sys-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (csrc, exe) = (dir.join("layout.c"), dir.join("layout"));
    std::fs::write(&csrc, c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-I", env!("WEFT_SYS_INCLUDE")])
        .arg(&csrc)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run cc");
    assert!(st.success(), "compiling {}", csrc.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ' ');
        let (kind, name, rest) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        seen.insert(format!("{kind} {name}"), rest.to_string());
    }
    let mut bad = Vec::new();
    for (name, ty, consts) in &enums {
        let (size, signed) = match ty.as_str() {
            "c_int" => ("4", "1"),
            "c_uint" => ("4", "0"),
            other => panic!("enum {name}: unexpected type {other}"),
        };
        let want = format!("{size} {signed}");
        if seen.get(&format!("sizeof {name}")) != Some(&want) {
            bad.push(format!("enum {name}: C says {:?}, ffi.rs {ty}", seen.get(&format!("sizeof {name}"))));
        }
        for (k, v) in consts {
            if seen.get(&format!("const {k}")) != Some(&v.to_string()) {
                bad.push(format!("{k}: C says {:?}, ffi.rs {v}", seen.get(&format!("const {k}"))));
            }
        }
    }
    assert!(bad.is_empty(), "ffi.rs disagrees with weft.h:\n{}", bad.join("\n"));
}

#[test]
fn a_few_values_by_hand() {
    use weft_sys::*;
    assert_eq!(weft_errno::WEFT_ECANCELED, -125);
    assert_eq!(weft_errno::WEFT_EPENDING, -5001);
    assert_eq!(weft_step_result::WEFT_STEP_SUSPEND, 1);
    assert_eq!(weft_loop_flags::WEFT_LOOP_VIRTUAL_TIME, 1);
    assert_eq!(std::mem::size_of::<weft_callback_fn>(), std::mem::size_of::<usize>());
    // SAFETY: any thread, static storage
    let v = unsafe { std::ffi::CStr::from_ptr(weft_version_string()) };
    assert_eq!(unsafe { weft_version() }, weft_version_parts::WEFT_VERSION_HEX);
    assert!(!v.to_bytes().is_empty());
}
