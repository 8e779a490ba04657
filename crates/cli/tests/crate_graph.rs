//! The crate graph in `docs/architecture.md` is the one the manifests build: every workspace
//! crate has a line `` - `crate` → `dep`, `dep` `` (or `→ none`) under "## Crate graph", each
//! line lists exactly the crate's internal `[dependencies]` (optional ones included,
//! dev-dependencies not), and the graph has no cycle.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

/// Package name → the workspace crates it depends on, from the manifests.
fn manifests() -> Graph {
    let workspace = read_toml(&root().join("Cargo.toml"));
    let members: Vec<&str> = workspace["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut packages = BTreeMap::new();
    for member in &members {
        let manifest = read_toml(&root().join(member).join("Cargo.toml"));
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        packages.insert(name, manifest);
    }
    let names: BTreeSet<String> = packages.keys().cloned().collect();
    packages
        .iter()
        .map(|(name, manifest)| {
            let deps = manifest
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|table| {
                    table
                        .iter()
                        .map(|(key, value)| {
                            // `alias = { package = "real-name", ... }` names the real crate.
                            value
                                .get("package")
                                .and_then(|p| p.as_str())
                                .unwrap_or(key)
                                .to_owned()
                        })
                        .filter(|dep| names.contains(dep))
                        .collect()
                })
                .unwrap_or_default();
            (name.clone(), deps)
        })
        .collect()
}

/// The edges listed under "## Crate graph" in docs/architecture.md.
fn documented() -> Graph {
    let path = root().join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Crate graph"))
        .unwrap_or_else(|| panic!("{} has no \"## Crate graph\" section", path.display()));
    let code = |s: &str| s.trim().trim_matches('`').to_owned();
    let mut graph = Graph::new();
    for line in section.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let Some((name, deps)) = rest.split_once('→') else {
            continue;
        };
        let deps: BTreeSet<String> = if deps.trim() == "none" {
            BTreeSet::new()
        } else {
            deps.split(',').map(code).collect()
        };
        let name = code(&format!("`{name}"));
        assert!(
            graph.insert(name.clone(), deps).is_none(),
            "{name} is listed twice in the crate graph"
        );
    }
    graph
}

#[test]
fn the_documented_crate_graph_is_the_one_the_manifests_build() {
    let built = manifests();
    let documented = documented();
    let mut problems = Vec::new();
    for (name, deps) in &built {
        match documented.get(name) {
            None => problems.push(format!("`{name}` is not in the documented graph")),
            Some(listed) => {
                for dep in deps.difference(listed) {
                    problems.push(format!(
                        "`{name}` → `{dep}` is in Cargo.toml, not in the document"
                    ));
                }
                for dep in listed.difference(deps) {
                    problems.push(format!(
                        "`{name}` → `{dep}` is documented, not in Cargo.toml"
                    ));
                }
            }
        }
    }
    for name in documented.keys().filter(|n| !built.contains_key(*n)) {
        problems.push(format!("`{name}` is documented but is no workspace crate"));
    }
    assert!(
        problems.is_empty(),
        "docs/architecture.md:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_crate_graph_has_no_cycle() {
    let graph = manifests();
    // Kahn's algorithm: what is left after removing crates without dependencies is a cycle.
    let mut left = graph.clone();
    loop {
        let done: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(name, _)| name.clone())
            .collect();
        if done.is_empty() {
            break;
        }
        for name in done {
            left.remove(&name);
        }
    }
    assert!(left.is_empty(), "a cycle among {:?}", left.keys());
}
