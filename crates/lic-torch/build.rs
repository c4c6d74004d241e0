// Embed an rpath to the libtorch that torch-sys linked against, so this package's tests, benches
// and examples run with no LD_LIBRARY_PATH. torch-sys has `links = "tch"`, so its
// `cargo:libtorch_lib=` metadata arrives here as DEP_TCH_LIBTORCH_LIB (direct dependents only;
// link arguments reach only this package's own targets, so `lic-torch-cli` has the same script).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}"),
        Err(_) => println!(
            "cargo:warning=DEP_TCH_LIBTORCH_LIB not set: binaries will need LD_LIBRARY_PATH"
        ),
    }
}
