//! The security namespaces this build enforces, gathered per level so that the settings
//! carry one field each for them.

use serde_json::Value;

use super::{bot_detector, cors, http_secure, jwt_signer, jwt_validator};
use crate::config::walk::Walker;

/// Security namespaces at service level.
#[derive(Debug, Clone, Default)]
pub struct ServiceSecurityOptions {
    /// `security/cors`.
    pub cors: Option<cors::CorsOptions>,
    /// `security/bot-detector`.
    pub bot_detector: Option<bot_detector::BotDetectorOptions>,
    /// `security/http`.
    pub http: Option<http_secure::HttpSecureOptions>,
}

/// Security namespaces at endpoint level.
#[derive(Debug, Clone, Default)]
pub struct EndpointSecurityOptions {
    /// `security/bot-detector`.
    pub bot_detector: Option<bot_detector::BotDetectorOptions>,
    /// `auth/validator`.
    pub jwt_validator: Option<jwt_validator::JwtValidatorOptions>,
    /// `auth/signer`.
    pub jwt_signer: Option<jwt_signer::JwtSignerOptions>,
}

impl ServiceSecurityOptions {
    /// Reads `ns` at `path` when it is a service-level security namespace; `false` otherwise.
    pub fn read(&mut self, ns: &str, v: &Value, path: &str, w: &mut Walker) -> bool {
        match ns {
            cors::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.cors = Some(cors::parse(o, path, w));
                }
            }
            bot_detector::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.bot_detector = Some(bot_detector::parse(o, path, w));
                }
            }
            http_secure::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.http = Some(http_secure::parse(o, path, w));
                }
            }
            _ => return false,
        }
        true
    }
}

impl EndpointSecurityOptions {
    /// Reads `ns` at `path` when it is an endpoint-level security namespace; `false` otherwise.
    pub fn read(&mut self, ns: &str, v: &Value, path: &str, w: &mut Walker) -> bool {
        match ns {
            bot_detector::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.bot_detector = Some(bot_detector::parse(o, path, w));
                }
            }
            jwt_validator::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.jwt_validator = Some(jwt_validator::parse(o, path, w));
                }
            }
            jwt_signer::NAMESPACE => {
                if let Some(o) = w.expect_object(v, path) {
                    self.jwt_signer = Some(jwt_signer::parse(o, path, w));
                }
            }
            _ => return false,
        }
        true
    }

    /// Whether any guard is configured.
    pub fn any(&self) -> bool {
        self.bot_detector.is_some() || self.jwt_validator.is_some()
    }
}
