//! The contract suite, one binary: every module's cases on the embedded store and on
//! DynamoDB Local (which `./test.sh` starts), plus the deployment checks.
//!
//! `RUNTYPE_TEST_BACKENDS=sqlite cargo test -p runtype-tests --test contract` runs only the
//! embedded backend for a quick inner loop; the cases it leaves out are reported as ignored,
//! never as passed. Arguments are libtest's (`cargo test --test contract -- products::`).

#[macro_use]
mod common;

mod a2a;
mod as_code;
mod budget;
mod capabilities;
mod conventions;
mod delivery;
mod gateway;
mod key_cascades;
mod lambda;
mod layering;
mod mcp;
mod metrics;
mod nasty;
mod openapi;
mod products;
mod quotas;
mod races;
mod readme;
mod reports;
mod scheduler;
mod schedules;
mod sessions;
mod storage;
mod surface_keys;
mod surfaces;
mod template;
mod waiting;

use libtest_mimic::{Arguments, Trial};

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let backends = &common::backends();
    let modules = [
        ("a2a", a2a::cases()),
        ("as_code", as_code::cases()),
        ("budget", budget::cases()),
        ("capabilities", capabilities::cases()),
        ("conventions", conventions::cases()),
        ("delivery", delivery::cases()),
        ("gateway", gateway::cases()),
        ("key_cascades", key_cascades::cases()),
        ("lambda", lambda::cases()),
        ("layering", layering::cases()),
        ("mcp", mcp::cases()),
        ("metrics", metrics::cases()),
        ("nasty", nasty::cases()),
        ("openapi", openapi::cases()),
        ("products", products::cases()),
        ("quotas", quotas::cases()),
        ("races", races::cases()),
        ("readme", readme::cases()),
        ("reports", reports::cases()),
        ("scheduler", scheduler::cases()),
        ("schedules", schedules::cases()),
        ("sessions", sessions::cases()),
        ("storage", storage::cases()),
        ("surface_keys", surface_keys::cases()),
        ("surfaces", surfaces::cases()),
        ("template", template::cases()),
        ("waiting", waiting::cases()),
    ];
    let trials = modules
        .into_iter()
        .flat_map(|(module, cases)| {
            cases.into_iter().map(move |case| {
                let off = case.store.is_some_and(|s| !backends.contains(&s));
                let run = case.run;
                Trial::test(format!("{module}::{}", case.name), move || {
                    run();
                    Ok(())
                })
                .with_ignored_flag(off)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
