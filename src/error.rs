//! One error type for the whole gateway. Each client format renders it in its own envelope
//! (`formats::*::error`), so a handler never builds an error body by hand.

use std::fmt;

/// What kind of failure this is; decides the `type` field clients see and, by default, the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The client's request is malformed or asks for something impossible.
    InvalidRequest,
    /// Missing or wrong API key.
    Authentication,
    /// Key is valid but not allowed to do this.
    PermissionDenied,
    /// Unknown model, route or record.
    NotFound,
    /// Body larger than the gateway accepts.
    PayloadTooLarge,
    /// Rate limited (by an upstream or by the gateway).
    RateLimited,
    /// The upstream provider failed or answered with something unusable.
    Upstream,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The gateway itself is not configured (e.g. a required secret is missing).
    NotConfigured,
    /// Every way to serve the request is known to be failing right now (open circuit breakers).
    Unavailable,
    /// A bug or an unexpected platform failure.
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub status: u16,
    pub message: String,
    /// The request field at fault, when there is one (OpenAI's `param`).
    pub param: Option<String>,
    /// A stable machine-readable code (OpenAI's `code`), e.g. `model_not_found`.
    pub code: Option<String>,
    /// Seconds the client should wait before retrying (sent as `Retry-After`).
    pub retry_after_secs: Option<u64>,
    /// The methods a path takes, sent as `Allow` with a 405.
    pub allow: Option<String>,
}

impl ErrorKind {
    /// A stable snake_case name (for logs and usage records).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Upstream => "upstream_error",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::NotConfigured => "not_configured",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let status = match kind {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Upstream => 502,
            ErrorKind::NotConfigured | ErrorKind::Unavailable => 503,
            ErrorKind::UpstreamTimeout => 504,
            ErrorKind::Internal => 500,
        };
        GatewayError {
            kind,
            status,
            message: message.into(),
            param: None,
            code: None,
            retry_after_secs: None,
            allow: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message).with_code("invalid_api_key")
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn with_allow(mut self, methods: String) -> Self {
        self.allow = Some(methods);
        self
    }
    pub fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after_secs = secs;
        self
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for GatewayError {}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
