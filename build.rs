// Embed an rpath to the libtorch that torch-sys linked against, so `cargo run/test/bench` and
// `target/release/lic` run with no LD_LIBRARY_PATH. torch-sys has `links = "tch"`, so its
// `cargo:libtorch_lib=` metadata arrives here as DEP_TCH_LIBTORCH_LIB (direct dependents only).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_ENGINE").is_none() {
        return; // tch-free build (fuzzing, core benches): nothing to link.
    }
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}"),
        Err(_) => println!(
            "cargo:warning=DEP_TCH_LIBTORCH_LIB not set: binaries will need LD_LIBRARY_PATH"
        ),
    }
}
