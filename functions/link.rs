//! The build script of every function crate (`build = "../link.rs"`): link the Lambda binary
//! as a position-dependent executable. A PIE has the loader patch every pointer in the
//! binary's tables at each cold start; measured here, that was a third of the init time
//! (fire-schedules: 5.9 ms → 3.0 ms, and 6.1 MB → 5.3 MB). Only the function binaries get
//! this; proc-macros and tests are untouched.

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=../link.rs");
}
