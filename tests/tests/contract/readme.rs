//! The README's facts are the code's: its configuration table lists exactly the variables
//! `Config` reads, and the numbers it gives (routes, functions, operations) are counted here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use runtype::config::Config;

crate::cases! {
    plain: [the_configuration_table_is_what_the_code_reads, the_readme_counts_what_there_is],
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The names `Config::from_vars` asks for when `set` have values (the rest unset).
fn read_with(set: &[(&str, &str)]) -> BTreeSet<String> {
    let asked = Mutex::new(BTreeSet::new());
    Config::from_vars(|name| {
        asked.lock().unwrap().insert(name.to_string());
        set.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("a valid configuration");
    asked.into_inner().unwrap()
}

fn the_configuration_table_is_what_the_code_reads() {
    // with an issuer set the session-token variables are read too
    let mut read = read_with(&[]);
    read.extend(read_with(&[
        ("RUNTYPE_JWT_ISSUER", "https://issuer.example.com"),
        ("RUNTYPE_JWKS_URL", "https://issuer.example.com/jwks.json"),
    ]));
    assert!(read.len() > 25, "{read:?}");
    let text = readme();
    let section = text
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a Configuration section")
        .split("\n## ")
        .next()
        .unwrap();
    let listed: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    assert_eq!(listed, read, "README's table against the variables read");
}

/// The number in `text` right after `before`.
fn number_after(text: &str, before: &str) -> usize {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("README says {before:?}"));
    text[at + before.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("a number after {before:?}"))
}

fn the_readme_counts_what_there_is() {
    let text = readme();
    let routes = runtype::router::routes().count();
    let functions = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(
        functions,
        routes + 2,
        "one per route, the scheduler and delivery"
    );
    assert_eq!(number_after(&text, "one function per route ("), routes);
    assert_eq!(number_after(&text, "the whole stack ("), functions);
    assert_eq!(number_after(&text, "generated cases over all "), routes);
}
