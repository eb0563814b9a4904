//! What the auth routes accept, validated: login, password change, a new operator.

use crate::config::valid_tenant_id;
use crate::error::{GatewayError, Result};
use crate::security::Secret;
use serde::Deserialize;

/// Shortest password that may be set (the first one, `ADMIN_SECRET`, is not checked: it is a
/// generated secret).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted, in bytes (bounds the work a login can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

// Passwords are `Secret`s: a `Debug` of these inputs (a log line, a panic message) redacts them.

/// `POST /api/auth/login`: the owner's password, or an operator's `name` and password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[serde(default)]
    pub name: Option<String>,
    pub password: Secret,
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current: Secret,
    pub new: Secret,
}

/// `POST /api/auth/operators`: a login that manages one tenant only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    pub tenant: String,
    pub name: String,
    pub password: Secret,
}

impl Login {
    pub fn validate(self) -> Result<Login> {
        let password = self.password.expose();
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(GatewayError::invalid_request("Give the password.").with_param("password"));
        }
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        Ok(self)
    }
}

impl PasswordChange {
    pub fn validate(self) -> Result<PasswordChange> {
        validate_new_password(self.new.expose(), "new")?;
        if self.new == self.current {
            return Err(
                GatewayError::invalid_request("The new password must differ from the current one.").with_param("new")
            );
        }
        Ok(self)
    }
}

impl NewOperator {
    pub fn validate(self) -> Result<NewOperator> {
        if !valid_tenant_id(&self.tenant) {
            return Err(GatewayError::invalid_request("Invalid tenant id.").with_param("tenant"));
        }
        validate_name(&self.name)?;
        validate_new_password(self.password.expose(), "password")?;
        Ok(self)
    }
}

/// A new password: at least [`MIN_PASSWORD_CHARS`] characters, at most [`MAX_PASSWORD_BYTES`] bytes.
pub fn validate_new_password(password: &str, param: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(GatewayError::invalid_request(format!(
            "A password needs at least {MIN_PASSWORD_CHARS} characters (at most {MAX_PASSWORD_BYTES} bytes)."
        ))
        .with_param(param)
        .with_code("weak_password"));
    }
    Ok(())
}

/// An operator's login name: 1–64 of `[A-Za-z0-9._-]`, not the owner's.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.eq_ignore_ascii_case(super::principal::OWNER_ID);
    if ok {
        Ok(())
    } else {
        Err(GatewayError::invalid_request("A login name is 1–64 letters, digits, `.`, `_` or `-`, and not `owner`.")
            .with_param("name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::input::parse;

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(validate_new_password("twelve chars", "p").is_ok());
        let e = validate_new_password("eleven char", "p").unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("weak_password")));
        // Characters, not bytes: twelve accented letters pass, a huge one does not.
        assert!(validate_new_password(&"é".repeat(12), "p").is_ok());
        assert!(validate_new_password(&"a".repeat(MAX_PASSWORD_BYTES + 1), "p").is_err());
    }

    #[test]
    fn inputs_refuse_unknown_keys_and_bad_values() {
        assert!(parse::<Login>(br#"{"password":"x","user":"y"}"#).is_err());
        assert!(parse::<Login>(br#"{"password":"x"}"#).unwrap().validate().is_ok());
        assert!(parse::<Login>(br#"{"password":""}"#).unwrap().validate().is_err());
        let same = parse::<PasswordChange>(br#"{"current":"abcdefghijkl","new":"abcdefghijkl"}"#).unwrap();
        assert_eq!(same.validate().unwrap_err().param.as_deref(), Some("new"));
        let op = |t: &str, n: &str| {
            parse::<NewOperator>(format!(r#"{{"tenant":"{t}","name":"{n}","password":"long enough pw"}}"#).as_bytes())
                .unwrap()
                .validate()
                .map(|_| ())
                .map_err(|e| e.param)
        };
        assert_eq!(op("m1", "laptop-ops"), Ok(()));
        assert_eq!(op("m/1", "laptop"), Err(Some("tenant".into())));
        assert_eq!(op("m1", "Owner"), Err(Some("name".into())));
        assert_eq!(op("m1", "has space"), Err(Some("name".into())));
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let login = parse::<Login>(br#"{"name":"laptop-ops","password":"hunter2-login-pw"}"#).unwrap();
        let change = parse::<PasswordChange>(br#"{"current":"hunter2-current","new":"hunter2-new-pass"}"#).unwrap();
        let new_op =
            parse::<NewOperator>(br#"{"tenant":"m1","name":"laptop-ops","password":"hunter2-operator"}"#).unwrap();
        for shown in
            [format!("{login:?}"), format!("{change:?}"), format!("{new_op:?}"), format!("{:#?}", Some(&login))]
        {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{login:?}").contains("laptop-ops"), "names are not secret");
        assert_eq!(login.password.expose(), "hunter2-login-pw");
    }
}
