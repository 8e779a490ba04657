//! The JSON error body every API route answers with:
//! `{"error": {"code": N, "message": "...", "problems": [...]}}`, `problems` only for
//! validation failures, each `{"file", "resource", "path", "message", "severity"}`.

use std::path::Path;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::{Problem, Severity};
use serde::Serialize;

/// One validation problem, as the API shows it: the file relative to the registry directory
/// (`(request)` for the body of the request being refused), the resource (`Kind/name`), the
/// field path (`spec.datasets[0].destinations`), the message and `error` or `warning`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemBody {
    /// Where the definition lives, relative to the registry directory.
    pub file: String,
    /// `Kind/name`.
    pub resource: String,
    /// The field at fault; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// `error` or `warning`.
    pub severity: &'static str,
}

impl ProblemBody {
    /// `problem` with its file shown relative to `root` when it lies below it.
    pub fn new(problem: &Problem, root: &Path) -> Self {
        let file = problem
            .file
            .strip_prefix(root)
            .unwrap_or(&problem.file)
            .display()
            .to_string();
        Self {
            file,
            resource: problem.resource.clone(),
            path: problem.path.as_str().to_owned(),
            message: problem.message.clone(),
            severity: match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "<[ProblemBody]>::is_empty")]
    problems: &'a [ProblemBody],
}

/// An error answer without problems.
pub fn error(status: StatusCode, message: &str) -> Response {
    problems(status, message, &[])
}

/// An error answer listing validation problems.
pub fn problems(status: StatusCode, message: &str, problems: &[ProblemBody]) -> Response {
    let body = Body {
        error: Detail {
            code: status.as_u16(),
            message,
            problems,
        },
    };
    (status, Json(body)).into_response()
}
