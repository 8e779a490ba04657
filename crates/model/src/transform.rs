//! Transforms (DESIGN 3.12): the `transform` key of a `datasetConfiguration` or
//! `eventConfiguration`, and the graph definitions it names, in AIO's format
//! (`moduleRequirements`, `moduleConfigurations`, `operations`, `connections`). Pure: the
//! graph's text is parsed by whoever reads the file; here it is checked and turned into a
//! [`Flow`], the tree of operators an event goes through.
//!
//! ```json
//! {"transform": {"graph": "graphs/clean.yaml",
//!                "configuration": {"clean/map": {"mode": "json"}},
//!                "onError": "drop"}}
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::environment::{FileRef, safe_relative_path};

/// The transform of one operation, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransformSpec {
    /// The graph definition, relative to the definitions directory (`graphs/clean.yaml`).
    pub graph: PathBuf,
    /// Parameters per graph operation name, passed to that operator's `init`.
    pub configuration: BTreeMap<String, BTreeMap<String, String>>,
    /// What happens to an event whose transform fails.
    pub on_error: OnError,
    /// The graph and module files as they were when the plan was made (filled by whoever
    /// reads them): a changed file changes the plan, and the transform is loaded again.
    pub files: Vec<FileRef>,
}

/// What happens to an event whose transform traps, times out or returns an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OnError {
    /// Not forwarded (the default); it counts as done for the checkpoint.
    #[default]
    Drop,
    /// Written to the dead-letter files, not forwarded.
    DeadLetter,
    /// Forwarded as it was before the transform.
    PassThrough,
}

/// The `transform` object of a configuration string.
///
/// # Errors
/// What is wrong, naming the key.
pub fn parse_spec(value: &Value) -> Result<TransformSpec, String> {
    let Some(object) = value.as_object() else {
        return Err("transform must be an object with a \"graph\"".into());
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "graph" | "configuration" | "onError") {
            return Err(format!(
                "transform: unknown key {key:?} (graph, configuration, onError)"
            ));
        }
    }
    let graph = object.get("graph").and_then(Value::as_str).ok_or(
        "transform.graph is required: the graph definition's path, e.g. graphs/clean.yaml",
    )?;
    let graph = safe_relative_path(graph).map_err(|why| format!("transform.graph: {why}"))?;
    let mut configuration = BTreeMap::new();
    if let Some(config) = object.get("configuration") {
        let Some(config) = config.as_object() else {
            return Err("transform.configuration must map operation names to parameters".into());
        };
        for (operation, params) in config {
            let Some(params) = params.as_object() else {
                return Err(format!(
                    "transform.configuration.{operation} must be an object of parameters"
                ));
            };
            let mut out = BTreeMap::new();
            for (key, value) in params {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => value.to_string(),
                    _ => {
                        return Err(format!(
                            "transform.configuration.{operation}.{key} must be a string, number or boolean"
                        ));
                    }
                };
                out.insert(key.clone(), value);
            }
            configuration.insert(operation.clone(), out);
        }
    }
    let on_error = match object.get("onError").map(|v| v.as_str()) {
        None | Some(Some("drop")) => OnError::Drop,
        Some(Some("deadLetter")) => OnError::DeadLetter,
        Some(Some("passThrough")) => OnError::PassThrough,
        Some(other) => {
            return Err(format!(
                "transform.onError must be drop, deadLetter or passThrough, not {}",
                other.unwrap_or("a non-string")
            ));
        }
    };
    Ok(TransformSpec {
        graph,
        configuration,
        on_error,
        files: Vec::new(),
    })
}

/// A graph definition file, as AIO writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// The WIT and runtime versions the modules need.
    #[serde(default)]
    pub module_requirements: Option<ModuleRequirements>,
    /// The parameters each operation declares.
    #[serde(default)]
    pub module_configurations: Vec<ModuleConfiguration>,
    /// The nodes.
    pub operations: Vec<GraphOperation>,
    /// The edges.
    #[serde(default)]
    pub connections: Vec<Connection>,
}

/// `moduleRequirements`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleRequirements {
    /// The `wasm-graph:processor` version, `1.1.0`.
    pub api_version: String,
}

/// The parameters of one operation.
#[derive(Debug, Clone, Deserialize)]
pub struct ModuleConfiguration {
    /// The operation's name.
    pub name: String,
    /// Parameter declarations by key.
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
}

/// One declared parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct Parameter {
    /// The name `init` receives; the key when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether a value must be configured.
    #[serde(default)]
    pub required: bool,
}

/// One node of a graph.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphOperation {
    /// `source`, `map`, `filter`, `branch`, `sink` (and AIO's `accumulate`, `delay`,
    /// `concatenate`, which a connector does not run).
    pub operation_type: String,
    /// Its name, unique in the graph.
    pub name: String,
    /// `name:version` of its module.
    #[serde(default)]
    pub module: Option<String>,
}

/// One edge.
#[derive(Debug, Clone, Deserialize)]
pub struct Connection {
    /// Where it starts; a branch's edges name their `arm`.
    pub from: Endpoint,
    /// Where it ends.
    pub to: Endpoint,
}

/// An end of an edge.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    /// The operation's name.
    pub name: String,
    /// `True` or `False`, for a branch.
    #[serde(default)]
    pub arm: Option<String>,
}

/// The operators a connector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperatorType {
    /// One message in, one out.
    Map,
    /// Keep or drop.
    Filter,
    /// Two arms.
    Branch,
}

/// One operator of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its name in the graph.
    pub name: String,
    /// Which operator.
    pub operator: OperatorType,
    /// Its module's file, relative to the `modules/` folder (`name-version.wasm`).
    pub module: PathBuf,
    /// The parameters its `init` receives.
    pub parameters: Vec<(String, String)>,
}

/// The path of an event through a graph, from the source: a tree (nodes two arms share are
/// repeated in each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Reached the sink: publish.
    Sink,
    /// A branch arm that leads nowhere: the event is not published.
    Drop,
    /// A map or a filter, then the rest.
    Step {
        /// The operator.
        node: Node,
        /// What follows.
        next: Box<Flow>,
    },
    /// A branch: `false` takes the first arm, `true` the second.
    Branch {
        /// The operator.
        node: Node,
        /// The `False` arm.
        when_false: Box<Flow>,
        /// The `True` arm.
        when_true: Box<Flow>,
    },
}

impl Flow {
    /// Every node, in depth-first order.
    pub fn nodes(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(flow) = stack.pop() {
            match flow {
                Flow::Sink | Flow::Drop => {}
                Flow::Step { node, next } => {
                    out.push(node);
                    stack.push(next);
                }
                Flow::Branch {
                    node,
                    when_false,
                    when_true,
                } => {
                    out.push(node);
                    stack.push(when_true);
                    stack.push(when_false);
                }
            }
        }
        out
    }
}

/// The module file of `name:version`: `name-version.wasm` below the modules folder (a name
/// with `/` is in subfolders).
///
/// # Errors
/// When the reference has no version or its name is not a safe relative path.
pub fn module_file(reference: &str) -> Result<PathBuf, String> {
    let (name, version) = reference
        .rsplit_once(':')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty() && !v.contains('/'))
        .ok_or_else(|| format!("module {reference:?} must be written name:version"))?;
    safe_relative_path(&format!("{name}-{version}.wasm"))
        .map_err(|why| format!("module {reference:?}: {why}"))
}

/// Checks `graph` and gives the flow of an event through it, each operator with its
/// parameters from `configuration`.
///
/// # Errors
/// Every problem found: not exactly one source and one sink, an operator type a connector
/// does not run, unknown or repeated names, a node with no or several ways out, a cycle, a
/// node the source does not reach, a module reference that is not `name:version`, a required
/// parameter that is not configured.
pub fn flow(
    graph: &Graph,
    configuration: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Flow, Vec<String>> {
    let mut problems = Vec::new();
    if let Some(req) = &graph.module_requirements
        && !req.api_version.starts_with("1.")
    {
        problems.push(format!(
            "moduleRequirements.apiVersion {:?}: this connector runs wasm-graph:processor 1.x",
            req.api_version
        ));
    }
    let mut nodes: BTreeMap<&str, &GraphOperation> = BTreeMap::new();
    let (mut sources, mut sinks) = (Vec::new(), Vec::new());
    for op in &graph.operations {
        if nodes.insert(op.name.as_str(), op).is_some() {
            problems.push(format!("operation {:?} is defined twice", op.name));
        }
        match op.operation_type.as_str() {
            "source" => sources.push(op.name.as_str()),
            "sink" => sinks.push(op.name.as_str()),
            "map" | "filter" | "branch" => match op.module.as_deref() {
                Some(m) => {
                    if let Err(why) = module_file(m) {
                        problems.push(format!("operation {:?}: {why}", op.name));
                    }
                }
                None => problems.push(format!("operation {:?} names no module", op.name)),
            },
            "accumulate" | "delay" | "concatenate" => problems.push(format!(
                "operation {:?}: {} is not supported by this connector (it runs map, filter and branch)",
                op.name, op.operation_type
            )),
            other => problems.push(format!(
                "operation {:?}: unknown operationType {other:?}",
                op.name
            )),
        }
    }
    if sources.len() != 1 {
        problems.push(format!(
            "a graph needs exactly one source operation, this one has {}",
            sources.len()
        ));
    }
    if sinks.len() != 1 {
        problems.push(format!(
            "a graph needs exactly one sink operation, this one has {}",
            sinks.len()
        ));
    }
    // Edges by start and arm.
    let mut edges: BTreeMap<(&str, Option<bool>), Vec<&str>> = BTreeMap::new();
    for c in &graph.connections {
        for end in [&c.from.name, &c.to.name] {
            if !nodes.contains_key(end.as_str()) {
                problems.push(format!("a connection names an unknown operation {end:?}"));
            }
        }
        let is_branch = nodes
            .get(c.from.name.as_str())
            .is_some_and(|o| o.operation_type == "branch");
        let arm = match (c.from.arm.as_deref(), is_branch) {
            (None, false) => None,
            (Some("True" | "true"), true) => Some(true),
            (Some("False" | "false"), true) => Some(false),
            (None, true) => {
                problems.push(format!(
                    "the connection from branch {:?} needs an arm (True or False)",
                    c.from.name
                ));
                continue;
            }
            (Some(arm), _) => {
                problems.push(format!(
                    "the connection from {:?} has arm {arm:?}: only a branch has arms, True or False",
                    c.from.name
                ));
                continue;
            }
        };
        edges
            .entry((c.from.name.as_str(), arm))
            .or_default()
            .push(c.to.name.as_str());
    }
    for ((from, arm), to) in &edges {
        if to.len() > 1 {
            let arm = arm.map(|a| format!(" (arm {})", if a { "True" } else { "False" }));
            problems.push(format!(
                "operation {from:?}{} leads to several operations ({}); a connector's graph is a path with branches",
                arm.unwrap_or_default(),
                to.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let builder = Builder {
        nodes: &nodes,
        edges: &edges,
        configuration,
        graph,
    };
    let mut reached = BTreeSet::new();
    let mut path = Vec::new();
    let flow = builder.follow(sources[0], &mut path, &mut reached, &mut problems);
    for name in nodes.keys() {
        if !reached.contains(name) {
            problems.push(format!("operation {name:?} is not reached from the source"));
        }
    }
    if problems.is_empty() {
        Ok(flow)
    } else {
        problems.sort();
        problems.dedup();
        Err(problems)
    }
}

struct Builder<'a> {
    nodes: &'a BTreeMap<&'a str, &'a GraphOperation>,
    edges: &'a BTreeMap<(&'a str, Option<bool>), Vec<&'a str>>,
    configuration: &'a BTreeMap<String, BTreeMap<String, String>>,
    graph: &'a Graph,
}

impl<'a> Builder<'a> {
    /// The flow from the node after `name` (the source) or `name` itself.
    fn follow(
        &self,
        name: &'a str,
        path: &mut Vec<&'a str>,
        reached: &mut BTreeSet<&'a str>,
        problems: &mut Vec<String>,
    ) -> Flow {
        if path.contains(&name) {
            problems.push(format!("the graph has a cycle through {name:?}"));
            return Flow::Drop;
        }
        reached.insert(name);
        let Some(op) = self.nodes.get(name) else {
            return Flow::Drop;
        };
        path.push(name);
        let next = |arm: Option<bool>,
                    path: &mut Vec<&'a str>,
                    reached: &mut BTreeSet<&'a str>,
                    problems: &mut Vec<String>| {
            self.edges
                .get(&(name, arm))
                .and_then(|to| to.first())
                .map(|to| self.follow(to, path, reached, problems))
        };
        let flow = match op.operation_type.as_str() {
            "sink" => Flow::Sink,
            "source" => next(None, path, reached, problems).unwrap_or_else(|| {
                problems.push("the source leads nowhere".into());
                Flow::Drop
            }),
            "branch" => {
                let node = self.node(op, OperatorType::Branch, problems);
                let when_false = next(Some(false), path, reached, problems).unwrap_or(Flow::Drop);
                let when_true = next(Some(true), path, reached, problems).unwrap_or(Flow::Drop);
                Flow::Branch {
                    node,
                    when_false: Box::new(when_false),
                    when_true: Box::new(when_true),
                }
            }
            kind => {
                let operator = if kind == "map" {
                    OperatorType::Map
                } else {
                    OperatorType::Filter
                };
                let node = self.node(op, operator, problems);
                let rest = next(None, path, reached, problems).unwrap_or_else(|| {
                    problems.push(format!("operation {name:?} leads nowhere"));
                    Flow::Drop
                });
                Flow::Step {
                    node,
                    next: Box::new(rest),
                }
            }
        };
        path.pop();
        flow
    }

    fn node(
        &self,
        op: &GraphOperation,
        operator: OperatorType,
        problems: &mut Vec<String>,
    ) -> Node {
        let module = op
            .module
            .as_deref()
            .and_then(|m| module_file(m).ok())
            .unwrap_or_default();
        let configured = self.configuration.get(&op.name);
        let declared = self
            .graph
            .module_configurations
            .iter()
            .filter(|c| c.name == op.name)
            .flat_map(|c| c.parameters.iter());
        for (key, p) in declared {
            let name = p.name.as_deref().unwrap_or(key);
            if p.required && !configured.is_some_and(|c| c.contains_key(name)) {
                problems.push(format!(
                    "operation {:?} needs parameter {name:?} (transform.configuration.{}.{name})",
                    op.name, op.name
                ));
            }
        }
        Node {
            name: op.name.clone(),
            operator,
            module,
            parameters: configured
                .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: &str, name: &str, module: Option<&str>) -> GraphOperation {
        GraphOperation {
            operation_type: kind.into(),
            name: name.into(),
            module: module.map(str::to_owned),
        }
    }

    fn edge(from: &str, arm: Option<&str>, to: &str) -> Connection {
        Connection {
            from: Endpoint {
                name: from.into(),
                arm: arm.map(str::to_owned),
            },
            to: Endpoint {
                name: to.into(),
                arm: None,
            },
        }
    }

    fn graph(operations: Vec<GraphOperation>, connections: Vec<Connection>) -> Graph {
        Graph {
            module_requirements: None,
            module_configurations: Vec::new(),
            operations,
            connections,
        }
    }

    fn no_config() -> BTreeMap<String, BTreeMap<String, String>> {
        BTreeMap::new()
    }

    #[test]
    fn a_chain_and_a_branch_become_a_flow() {
        let g = graph(
            vec![
                op("source", "source", None),
                op("filter", "keep", Some("acme/guest:1.0.0")),
                op("branch", "route", Some("acme/guest:1.0.0")),
                op("map", "alarm", Some("acme/guest:1.0.0")),
                op("sink", "sink", None),
            ],
            vec![
                edge("source", None, "keep"),
                edge("keep", None, "route"),
                edge("route", Some("False"), "sink"),
                edge("route", Some("True"), "alarm"),
                edge("alarm", None, "sink"),
            ],
        );
        let mut config = no_config();
        config.insert(
            "alarm".into(),
            BTreeMap::from([("mode".into(), "json".into())]),
        );
        let flow = flow(&g, &config).expect("valid");
        let Flow::Step { node, next } = &flow else {
            panic!("{flow:?}")
        };
        assert_eq!(node.operator, OperatorType::Filter);
        assert_eq!(node.module, PathBuf::from("acme/guest-1.0.0.wasm"));
        let Flow::Branch {
            when_false,
            when_true,
            ..
        } = next.as_ref()
        else {
            panic!("{next:?}")
        };
        assert_eq!(**when_false, Flow::Sink);
        let Flow::Step { node, next } = when_true.as_ref() else {
            panic!("{when_true:?}")
        };
        assert_eq!(node.parameters, [("mode".to_owned(), "json".to_owned())]);
        assert_eq!(**next, Flow::Sink);
        assert_eq!(flow.nodes().len(), 3);
    }

    #[test]
    fn bad_graphs_name_their_problem() {
        let m = Some("m:1");
        let cases: Vec<(Graph, &str)> = vec![
            (
                graph(vec![op("sink", "sink", None)], vec![]),
                "exactly one source",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("sink", "a", None),
                        op("sink", "b", None),
                    ],
                    vec![edge("s", None, "a")],
                ),
                "exactly one sink",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("accumulate", "acc", m),
                        op("sink", "k", None),
                    ],
                    vec![edge("s", None, "acc"), edge("acc", None, "k")],
                ),
                "accumulate is not supported",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("map", "a", m),
                        op("map", "b", m),
                        op("sink", "k", None),
                    ],
                    vec![
                        edge("s", None, "a"),
                        edge("a", None, "b"),
                        edge("b", None, "a"),
                    ],
                ),
                "cycle",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("map", "a", Some("nover")),
                        op("sink", "k", None),
                    ],
                    vec![edge("s", None, "a"), edge("a", None, "k")],
                ),
                "name:version",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("map", "a", m),
                        op("sink", "k", None),
                    ],
                    vec![edge("s", None, "k")],
                ),
                "not reached",
            ),
            (
                graph(
                    vec![
                        op("source", "s", None),
                        op("branch", "b", m),
                        op("sink", "k", None),
                    ],
                    vec![edge("s", None, "b"), edge("b", None, "k")],
                ),
                "needs an arm",
            ),
        ];
        for (g, expected) in cases {
            let problems = flow(&g, &no_config()).expect_err(expected);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:?}"
            );
        }
    }

    #[test]
    fn required_parameters_must_be_configured() {
        let mut g = graph(
            vec![
                op("source", "s", None),
                op("map", "a", Some("m:1")),
                op("sink", "k", None),
            ],
            vec![edge("s", None, "a"), edge("a", None, "k")],
        );
        g.module_configurations.push(ModuleConfiguration {
            name: "a".into(),
            parameters: BTreeMap::from([(
                "limit".into(),
                Parameter {
                    name: None,
                    required: true,
                },
            )]),
        });
        let problems = flow(&g, &no_config()).expect_err("missing");
        assert!(
            problems[0].contains("transform.configuration.a.limit"),
            "{problems:?}"
        );
        let config = BTreeMap::from([("a".into(), BTreeMap::from([("limit".into(), "3".into())]))]);
        assert!(flow(&g, &config).is_ok());
    }

    #[test]
    fn specs() {
        let spec = parse_spec(&serde_json::json!({
            "graph": "graphs/clean.yaml",
            "configuration": {"a": {"mode": "json", "n": 3}},
            "onError": "deadLetter"
        }))
        .expect("valid");
        assert_eq!(spec.graph, PathBuf::from("graphs/clean.yaml"));
        assert_eq!(spec.on_error, OnError::DeadLetter);
        assert_eq!(spec.configuration["a"]["n"], "3");
        for bad in [
            serde_json::json!("graphs/x.yaml"),
            serde_json::json!({}),
            serde_json::json!({"graph": "../x.yaml"}),
            serde_json::json!({"graph": "g.yaml", "onError": "retry"}),
            serde_json::json!({"graph": "g.yaml", "extra": 1}),
            serde_json::json!({"graph": "g.yaml", "configuration": {"a": [1]}}),
        ] {
            assert!(parse_spec(&bad).is_err(), "{bad}");
        }
    }
}
