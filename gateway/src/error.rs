//! Typed failures of the proxy and backend tiers. [`crate::endpoint`] is the one place that
//! turns them into HTTP responses.

/// Where a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The backend answered badly or not at all.
    Backend,
    /// The gateway itself (deadline, merge bookkeeping).
    Internal,
}

/// Why a proxy layer failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    /// The backend answered with a status other than 200/201.
    #[error("invalid status code {status} {prefix} {url}")]
    InvalidStatus {
        /// Backend status.
        status: u16,
        /// `[METHOD url_pattern]:` as KrakenD prints it.
        prefix: String,
        /// The URL called.
        url: String,
    },
    /// `return_error_code`: the backend's status and body are returned to the client.
    #[error("{body}")]
    WithStatus {
        /// Backend status.
        status: u16,
        /// Backend body.
        body: String,
        /// Backend `Content-Type`.
        content_type: Option<String>,
    },
    /// Connecting, sending or receiving failed.
    #[error("{0}")]
    Transport(String),
    /// The body could not be decoded with the configured encoding.
    #[error("{0}")]
    Decode(String),
    /// The deadline passed.
    #[error("context deadline exceeded")]
    Timeout,
    /// A layer produced nothing.
    #[error("invalid response: null result")]
    NullResult,
    /// A script (Lua) failed or refused the request without a status of its own (500).
    #[error("{0}")]
    Script(String),
    /// Several backends failed while merging.
    #[error("{}", join_messages(.0))]
    Merge(Vec<ProxyError>),
}

fn join_messages(errors: &[ProxyError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ProxyError {
    /// Where the failure came from.
    pub fn source_kind(&self) -> ErrorSource {
        match self {
            Self::Timeout | Self::NullResult | Self::Merge(_) | Self::Script(_) => {
                ErrorSource::Internal
            }
            _ => ErrorSource::Backend,
        }
    }

    /// Whether repeating the call could succeed (nothing was consumed or changed).
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Timeout)
    }

    /// KrakenD reports merge failures as one merge error, even for a single failure.
    pub fn merged(errors: Vec<ProxyError>) -> Option<ProxyError> {
        (!errors.is_empty()).then_some(ProxyError::Merge(errors))
    }
}
