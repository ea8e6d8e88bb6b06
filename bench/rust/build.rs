//! The benchmark is started by the peer kit's run_all.sh, not by cargo: give
//! it an rpath to the libweft that weft-sys linked.
fn main() {
    if let Ok(dir) = std::env::var("DEP_WEFT_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
