//! The one place where failures become HTTP: every error the API answers is an `ApiError`,
//! and `ApiError::status`/`ApiError::body` give its status code and contract body.

use serde_json::{json, Value};

use crate::store::StoreError;

/// One bad field of a 400 `VALIDATION_ERROR`.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    pub suggestion: Option<String>,
}

impl Detail {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Detail {
            path: path.into(),
            code,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn suggest(mut self, s: impl Into<String>) -> Self {
        self.suggestion = Some(s.into());
        self
    }
}

#[derive(Debug)]
pub enum ApiError {
    Validation(Vec<Detail>),
    /// A 400 with its own top-level code (`INVALID_JSON`, `INVALID_CURSOR`).
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(Vec<&'static str>),
    Conflict(String),
    /// A 409 that names what it is about (`details`).
    ConflictAbout(String, Vec<Detail>),
    /// A 422 with its own code (`IDEMPOTENCY_KEY_REUSED`).
    Unprocessable {
        code: &'static str,
        message: String,
    },
    /// A body over the route's limit, in bytes.
    PayloadTooLarge,
    /// The request's body did not arrive in time (the local server).
    RequestTimeout,
    UnsupportedMediaType,
    RateLimited {
        retry_after_secs: u64,
    },
    /// A 403 `QUOTA_EXCEEDED` naming the limit reached.
    QuotaExceeded(String),
    Internal,
    Unavailable,
    /// An answer of the products-as-code protocol (API.md): its own lowercase code and
    /// top-level fields (`external_modification`, `remote_changed`: 409;
    /// `content_hash_mismatch`: 422).
    Protocol {
        status: u16,
        code: &'static str,
        message: String,
        fields: serde_json::Map<String, Value>,
    },
    /// Any of the above with extra response headers (`Retry-After`, `X-RateLimit-*`).
    WithHeaders(Box<ApiError>, Vec<(&'static str, String)>),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(path: impl Into<String>, code: &'static str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![Detail::new(path, code, msg)])
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    /// This error, answered with `headers` as well.
    pub fn with_headers(self, headers: Vec<(&'static str, String)>) -> ApiError {
        match self {
            ApiError::WithHeaders(inner, mut more) => {
                more.extend(headers);
                ApiError::WithHeaders(inner, more)
            }
            e => ApiError::WithHeaders(Box::new(e), headers),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::WithHeaders(inner, _) => inner.status(),
            ApiError::ConflictAbout(..) => 409,
            ApiError::Protocol { status, .. } => *status,
            ApiError::Unprocessable { .. } => 422,
            ApiError::Validation(_) | ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::RequestTimeout => 408,
            ApiError::UnsupportedMediaType => 415,
            ApiError::RateLimited { .. } => 429,
            ApiError::QuotaExceeded(_) => 403,
            ApiError::Internal => 500,
            ApiError::Unavailable => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::WithHeaders(inner, _) => inner.code(),
            ApiError::ConflictAbout(..) => "CONFLICT",
            ApiError::Unprocessable { code, .. } | ApiError::Protocol { code, .. } => code,
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::RequestTimeout => "REQUEST_TIMEOUT",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            ApiError::Internal => "INTERNAL",
            ApiError::Unavailable => "UNAVAILABLE",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::WithHeaders(inner, _) => inner.message(),
            ApiError::ConflictAbout(message, _)
            | ApiError::Unprocessable { message, .. }
            | ApiError::Protocol { message, .. } => message.clone(),
            ApiError::Validation(details) => match details.as_slice() {
                [one] => format!("Invalid request: {} ({})", one.message, one.path),
                _ => format!("Invalid request: {} fields are invalid", details.len()),
            },
            ApiError::BadRequest { message, .. }
            | ApiError::Unauthorized(message)
            | ApiError::Forbidden(message)
            | ApiError::NotFound(message)
            | ApiError::QuotaExceeded(message)
            | ApiError::Conflict(message) => message.clone(),
            ApiError::MethodNotAllowed(allow) => {
                format!("Method not allowed here; allowed: {}", allow.join(", "))
            }
            ApiError::PayloadTooLarge => "Request body is too large".into(),
            ApiError::RequestTimeout => "The request's body did not arrive in time".into(),
            ApiError::UnsupportedMediaType => {
                "Request body must be JSON (Content-Type: application/json)".into()
            }
            ApiError::RateLimited { .. } => "Too many requests".into(),
            ApiError::Internal => "Internal error".into(),
            ApiError::Unavailable => "Storage is unavailable; try again shortly".into(),
        }
    }

    /// The contract's error body: `{error, code}` plus `details` for validation errors.
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.message(), "code": self.code() });
        let details = match self {
            ApiError::WithHeaders(inner, _) => return inner.body(),
            ApiError::Validation(details) | ApiError::ConflictAbout(_, details) => Some(details),
            _ => None,
        };
        if let ApiError::Protocol { fields, .. } = self {
            for (k, v) in fields {
                body[k.as_str()] = v.clone();
            }
        }
        if let ApiError::QuotaExceeded(message) = self {
            body["details"] = json!([{ "path": "", "code": "QUOTA_EXCEEDED", "message": message }]);
        }
        if let Some(details) = details {
            body["details"] = details
                .iter()
                .map(|d| {
                    let mut v = json!({ "path": d.path, "code": d.code, "message": d.message });
                    if let Some(s) = &d.suggestion {
                        v["suggestion"] = json!(s);
                    }
                    v
                })
                .collect();
        }
        body
    }

    /// Extra headers this error carries (`Allow`, `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::MethodNotAllowed(allow) => vec![("allow", allow.join(", "))],
            ApiError::RateLimited { retry_after_secs } => {
                vec![("retry-after", retry_after_secs.to_string())]
            }
            ApiError::WithHeaders(inner, extra) => {
                let mut h = inner.headers();
                h.extend(extra.iter().cloned());
                h
            }
            _ => vec![],
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if !matches!(e, StoreError::Invalid(_)) {
            crate::metrics::count(&crate::metrics::STORAGE_ERRORS, None, 1);
        }
        match e {
            StoreError::Unavailable(msg) => {
                crate::log::error("storage unavailable", &msg);
                ApiError::Unavailable
            }
            StoreError::Internal(msg) => {
                crate::log::error("storage error", &msg);
                ApiError::Internal
            }
            StoreError::Invalid(msg) => {
                crate::log::error("storage refused a write", &msg);
                ApiError::Validation(vec![Detail::new(
                    "",
                    "TOO_LONG",
                    "The record this request makes is more than the store takes",
                )])
            }
            // Conditions are interpreted by the repository; one reaching here is a bug.
            StoreError::ConditionFailed | StoreError::Cancelled(_) => {
                crate::log::error("storage error", "unhandled condition failure");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_body_lists_details() {
        let e = ApiError::Validation(vec![
            Detail::new("name", "MISSING_REQUIRED_FIELD", "name is required"),
            Detail::new("icon", "TOO_LONG", "icon is too long").suggest("at most 50"),
        ]);
        let b = e.body();
        assert_eq!(e.status(), 400);
        assert_eq!(b["code"], "VALIDATION_ERROR");
        assert_eq!(b["details"][1]["path"], "icon");
        assert_eq!(b["details"][1]["suggestion"], "at most 50");
        assert!(b["details"][0].get("suggestion").is_none());
    }

    #[test]
    fn internal_errors_carry_no_detail() {
        let e: ApiError = StoreError::Internal("secret table arn".into()).into();
        assert_eq!(e.status(), 500);
        assert!(!e.body().to_string().contains("arn"));
    }
}
