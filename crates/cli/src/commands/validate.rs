//! `sse-connector validate`: read the whole registry from scratch and report every problem.
//!
//! Output (standard output), in this order:
//!
//! ```text
//! FILE: RESOURCE: field.path: what is wrong            one line per error
//! warning: FILE: RESOURCE: field.path: what is wrong   one line per warning
//! valid: 2 devices, 3 assets, … in 6 files             the summary (`invalid (N errors): …`)
//! ```
//!
//! The error lines are exactly `model::Problem`'s rendering, so editors and scripts can
//! parse them. Warnings never change the exit status. With the `transforms` feature, each
//! module a transform's graph uses is compiled and must export the operators it is used as.

use std::process::ExitCode;

use clap::Args;

use crate::commands::registry_args::{RegistryArgs, failed, print};

const AFTER_LONG_HELP: &str = "\
Output: each error as `FILE: RESOURCE: field.path: what is wrong` (RESOURCE is Kind/name,
`document N` when the name cannot be read, `-` for the file itself; a syntax error has
`line L, column C` as its path), then each warning prefixed with `warning: `, then a
one-line summary.

Exit status:
  0  valid (warnings alone never fail)
  1  at least one error, or the registry directory cannot be read
  2  invalid command line

Examples:
  sse-connector validate --registry examples/registry
  SSE_CONNECTOR_REGISTRY=/etc/sse-connector sse-connector validate --quiet";

/// Arguments of `validate`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct ValidateArgs {
    #[command(flatten)]
    registry: RegistryArgs,

    /// Print only the errors: no warnings, no summary
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `validate`.
///
/// # Errors
/// When the registry directory does not exist or cannot be read (exit status 1, as for
/// an invalid registry).
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let paths = args.registry.paths();
    #[cfg_attr(not(feature = "transforms"), allow(unused_mut))]
    let mut snapshot = registry::validate(paths.clone()).map_err(failed)?;
    #[cfg(feature = "transforms")]
    {
        let modules = paths.definitions.join(registry::transforms::MODULES_DIR);
        snapshot
            .problems
            .extend(exports::check(&snapshot.plan, &modules));
    }
    let mut out = String::new();
    for error in snapshot.errors() {
        out.push_str(&format!("{error}\n"));
    }
    if !args.quiet {
        for warning in snapshot.warnings() {
            out.push_str(&format!("warning: {warning}\n"));
        }
        out.push_str(&snapshot.summary());
        out.push('\n');
    }
    print(&out)?;
    Ok(if snapshot.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(feature = "transforms")]
mod exports {
    //! Whether each module of the plan's transforms is a component exporting the operators
    //! its graphs use (each file compiled once).

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use model::transform::{Graph, OperatorType, flow};
    use model::{FieldPath, Plan, Problem};
    use transform::{Limits, Module, OperatorKind, Runtime};

    /// The problems of the modules below `modules` that `plan`'s graphs use. A graph or
    /// module the registry already reported (unreadable, invalid, missing) is skipped.
    pub fn check(plan: &Plan, modules: &Path) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut compiled: BTreeMap<PathBuf, Result<Module, String>> = BTreeMap::new();
        let mut reported = BTreeSet::new();
        let mut runtime = None;
        for op in plan.operations.values() {
            let Some(spec) = &op.transform else {
                continue;
            };
            let Some(flow) = std::fs::read_to_string(&spec.graph)
                .ok()
                .and_then(|text| serde_saphyr::from_str::<Graph>(&text).ok())
                .and_then(|graph| flow(&graph, &spec.configuration).ok())
            else {
                continue;
            };
            let resource = format!("Asset/{}", op.id.asset());
            for node in flow.nodes() {
                let path = modules.join(&node.module);
                if !path.is_file() {
                    continue;
                }
                let module = compiled.entry(path.clone()).or_insert_with(|| {
                    let runtime = runtime
                        .get_or_insert_with(|| Runtime::new(Limits::default()))
                        .as_ref()
                        .map_err(ToString::to_string)?;
                    Module::from_file(runtime, &path).map_err(|e| e.to_string())
                });
                let kind = match node.operator {
                    OperatorType::Map => OperatorKind::Map,
                    OperatorType::Filter => OperatorKind::Filter,
                    OperatorType::Branch => OperatorKind::Branch,
                };
                let message = match module {
                    // One line: the compiler's message may span several.
                    Err(e) => format!(
                        "operation {:?}: {}",
                        node.name,
                        e.split_whitespace().collect::<Vec<_>>().join(" ")
                    ),
                    Ok(m) if !m.exports(kind) => format!(
                        "operation {:?}: module {} does not export wasm-graph:processor/{kind}",
                        node.name,
                        path.display()
                    ),
                    Ok(_) => continue,
                };
                if reported.insert((resource.clone(), message.clone())) {
                    problems.push(Problem::error(
                        &spec.graph,
                        resource.clone(),
                        FieldPath::root().key("transform").key("graph"),
                        message,
                    ));
                }
            }
        }
        problems
    }
}
