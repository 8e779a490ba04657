//! From all definitions to a plan: duplicates, validation of devices then assets, and the
//! "last good" rule.
//!
//! A resource that fails validation is not applied: its last accepted version (if there is
//! one, and if it is still valid) stays in force, and the failure is reported. A file that
//! cannot be read at all keeps the last accepted versions of the resources it held. Nothing
//! else is affected: devices depend only on secrets and trust lists, assets only on devices,
//! so each resource is decided once, devices first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::environment::Environment;
use crate::plan::Plan;
use crate::problem::{FieldPath, Problem};
use crate::resource::{Body, Kind, Located, Resource};
use crate::validate::{Report, ResolvedDevice, check_asset, check_common, check_device};

/// The accepted resources, by kind and name; pass them back to the next [`build`].
pub type Accepted = BTreeMap<(Kind, String), Located>;

/// The outcome of [`build`].
#[derive(Debug, Clone, Default)]
pub struct Build {
    /// Operations of the accepted resources.
    pub plan: Plan,
    /// Every problem, errors and warnings, in file order.
    pub problems: Vec<Problem>,
    /// What is in force now: the "last good" of the next build.
    pub accepted: Accepted,
}

impl Build {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// What could not be read, so that its last good version is used instead.
#[derive(Debug, Clone, Default)]
pub struct Unreadable {
    /// Files that could not be parsed: every resource they last held.
    pub files: BTreeSet<PathBuf>,
    /// Resources whose document could not be decoded.
    pub resources: BTreeSet<(Kind, String)>,
    /// Of those, the ones that could be read with the values at fault set aside: validated
    /// for their other problems (so one bad value hides nothing else), never applied.
    pub partial: Vec<Partial>,
}

/// A resource read with the values at fault set aside (see [`crate::resource::DecodeError`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// The resource as read.
    pub located: Located,
    /// Paths of the values set aside: problems at or below them are consequences, not
    /// reported again.
    pub faults: Vec<FieldPath>,
}

/// Validates `definitions` (in file order) and resolves them into a plan.
///
/// Resources named by `unreadable` (and not defined elsewhere in `definitions`) are taken
/// from `last_good`. Pass an empty `last_good` to validate from scratch.
pub fn build(
    definitions: &[Located],
    unreadable: &Unreadable,
    env: &dyn Environment,
    last_good: &Accepted,
) -> Build {
    let mut out = Build::default();
    let mut candidates: Vec<&Located> = definitions.iter().collect();
    let defined: BTreeSet<(Kind, &str)> = definitions
        .iter()
        .map(|l| (l.resource.kind(), l.resource.name.as_str()))
        .collect();
    for (key, old) in last_good {
        let lost = unreadable.files.contains(&old.file) || unreadable.resources.contains(key);
        if lost && !defined.contains(&(key.0, key.1.as_str())) {
            out.problems.push(Problem::warning(
                &old.file,
                old.resource.label(),
                FieldPath::root(),
                "cannot be read; the last good version stays in force",
            ));
            candidates.push(old);
        }
    }

    let mut first_seen: BTreeMap<(Kind, &str), &Located> = BTreeMap::new();
    let mut unique = Vec::new();
    for c in candidates {
        let key = (c.resource.kind(), c.resource.name.as_str());
        match first_seen.get(&key) {
            Some(first) => out.problems.push(Problem::error(
                &c.file,
                c.resource.label(),
                FieldPath::root(),
                format!(
                    "duplicate {} name {:?}: first defined in {} (document {}); this one is ignored",
                    key.0.as_str(),
                    key.1,
                    first.file.display(),
                    first.document
                ),
            )),
            None => {
                first_seen.insert(key, c);
                unique.push(c);
            }
        }
    }

    let mut devices: BTreeMap<String, ResolvedDevice> = BTreeMap::new();
    for located in unique.iter().filter(|l| l.resource.kind() == Kind::Device) {
        let check = |l: &Located, report: &mut Report<'_>| {
            check_common(&l.resource, report);
            match &l.resource.body {
                Body::Device(d) => Some(check_device(d, &l.resource.body_path(), env, report)),
                Body::Asset(_) => None,
            }
        };
        if let Some((l, resolved)) = decide(located, last_good, &mut out, check) {
            devices.insert(l.resource.name.clone(), resolved);
        }
    }
    for located in unique.iter().filter(|l| l.resource.kind() == Kind::Asset) {
        let check = |l: &Located, report: &mut Report<'_>| match &l.resource.body {
            Body::Asset(a) => {
                check_common(&l.resource, report);
                Some(check_asset(
                    &l.resource.name,
                    a,
                    &l.resource.body_path(),
                    &devices,
                    report,
                ))
            }
            Body::Device(_) => None,
        };
        if let Some((_, ops)) = decide(located, last_good, &mut out, check) {
            for op in ops {
                out.plan.operations.insert(op.id.clone(), op);
            }
        }
    }
    for partial in &unreadable.partial {
        let l = &partial.located;
        let key = (l.resource.kind(), l.resource.name.as_str());
        if defined.contains(&key) {
            continue; // a duplicate of a readable definition: reported as such
        }
        let mut report = Report::new(&l.file, l.resource.label());
        check_common(&l.resource, &mut report);
        let at = l.resource.body_path();
        match &l.resource.body {
            Body::Device(d) => {
                check_device(d, &at, env, &mut report);
            }
            Body::Asset(a) => {
                check_asset(&l.resource.name, a, &at, &devices, &mut report);
            }
        }
        out.problems.extend(
            report
                .problems
                .into_iter()
                .filter(|p| !partial.faults.iter().any(|f| is_within(&p.path, f))),
        );
    }
    out.problems.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Whether `path` is `outer` or a field below it.
fn is_within(path: &FieldPath, outer: &FieldPath) -> bool {
    let (p, o) = (path.as_str(), outer.as_str());
    p == o || (p.starts_with(o) && matches!(p.as_bytes().get(o.len()), Some(b'.' | b'[')))
}

/// Checks `new`; when it fails, falls back to its last good version if that still passes.
/// Records the accepted version in `out.accepted` and returns it with its check result.
fn decide<T>(
    new: &Located,
    last_good: &Accepted,
    out: &mut Build,
    check: impl Fn(&Located, &mut Report<'_>) -> Option<T>,
) -> Option<(Located, T)> {
    let mut report = Report::new(&new.file, new.resource.label());
    let result = check(new, &mut report);
    let failed = report.has_errors();
    out.problems.append(&mut report.problems);
    let key = (new.resource.kind(), new.resource.name.clone());
    let chosen = if !failed {
        result.map(|r| (new.clone(), r))
    } else {
        match last_good
            .get(&key)
            .filter(|old| old.resource != new.resource)
        {
            None => None,
            Some(old) => {
                let mut old_report = Report::new(&old.file, old.resource.label());
                let old_result = check(old, &mut old_report);
                let note = if old_report.has_errors() {
                    "not applied, and the last good version is no longer valid either: stopped"
                } else {
                    "not applied; the last good version stays in force"
                };
                out.problems.push(Problem::warning(
                    &new.file,
                    new.resource.label(),
                    FieldPath::root(),
                    note,
                ));
                old_result
                    .filter(|_| !old_report.has_errors())
                    .map(|r| (old.clone(), r))
            }
        }
    };
    if let Some((l, _)) = &chosen {
        out.accepted.insert(key, l.clone());
    }
    chosen
}

/// Resources of a kind in an accepted set, in name order.
pub fn accepted_of(accepted: &Accepted, kind: Kind) -> impl Iterator<Item = &Resource> {
    accepted
        .iter()
        .filter(move |((k, _), _)| *k == kind)
        .map(|(_, l)| &l.resource)
}
