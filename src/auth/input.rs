//! What the auth routes accept, validated: login, password change, a new operator.

use crate::config::valid_tenant_id;
use crate::error::{GatewayError, Result};
use crate::security::password::DERIVED_LEN;
use crate::security::Secret;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;

/// Shortest password that may be set (the first one, `ADMIN_SECRET`, is not checked: it is a
/// generated secret).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted, in bytes (bounds the work a login can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

// Passwords are `Secret`s: a `Debug` of these inputs (a log line, a panic message) redacts them.

/// `POST /api/auth/login`: the owner's password, or an operator's `name` and password; or instead
/// of the password, a `proof` derived from it in the browser (docs/auth.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub proof: Option<Secret>,
}

/// A validated sign-in: whose, and with what.
#[derive(Debug)]
pub struct SignIn {
    pub name: Option<String>,
    pub credential: Credential,
}

/// What a sign-in shows: the password, or the PBKDF2 output of it the client derived
/// (`security::password`; as good as the password for this login, so never shown either).
pub enum Credential {
    Password(Secret),
    Proof([u8; DERIVED_LEN]),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Password(_) => "Password(…)",
            Credential::Proof(_) => "Proof(…)",
        })
    }
}

/// `POST /api/auth/login/params`: whose sign-in parameters (the owner's without `name`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginParamsAsk {
    #[serde(default)]
    pub name: Option<String>,
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
    pub fn validate(self) -> Result<SignIn> {
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        let credential = match (self.password, self.proof) {
            (Some(password), None) => {
                let p = password.expose();
                if p.is_empty() || p.len() > MAX_PASSWORD_BYTES {
                    return Err(GatewayError::invalid_request("Give the password.").with_param("password"));
                }
                Credential::Password(password)
            }
            (None, Some(proof)) => {
                let bytes = URL_SAFE_NO_PAD.decode(proof.expose()).ok().and_then(|b| b.try_into().ok());
                Credential::Proof(bytes.ok_or_else(|| {
                    GatewayError::invalid_request(format!(
                        "A proof is the base64url (no padding) of {DERIVED_LEN} bytes of PBKDF2-SHA256 output."
                    ))
                    .with_param("proof")
                })?)
            }
            _ => {
                return Err(GatewayError::invalid_request("Give the password, or a proof instead of it (not both).")
                    .with_param("password"))
            }
        };
        Ok(SignIn { name: self.name, credential })
    }
}

impl LoginParamsAsk {
    pub fn validate(self) -> Result<LoginParamsAsk> {
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
        let proof = URL_SAFE_NO_PAD.encode([9u8; 32]);
        let with_proof = parse::<Login>(format!(r#"{{"name":"ops","proof":"{proof}"}}"#).as_bytes()).unwrap();
        assert!(matches!(with_proof.validate().unwrap().credential, Credential::Proof(p) if p == [9; 32]));
        let bad = |body: String| parse::<Login>(body.as_bytes()).unwrap().validate().unwrap_err().param;
        assert_eq!(bad(format!(r#"{{"proof":"{}"}}"#, &proof[..20])), Some("proof".into()), "too short");
        assert_eq!(bad(r#"{"proof":"not base64!"}"#.into()), Some("proof".into()));
        assert_eq!(bad(format!(r#"{{"password":"x","proof":"{proof}"}}"#)), Some("password".into()), "both");
        assert_eq!(bad("{}".into()), Some("password".into()), "neither");
        assert!(parse::<LoginParamsAsk>(br#"{"name":"Ops"}"#).unwrap().validate().is_ok());
        assert!(parse::<LoginParamsAsk>(br#"{"name":"has space"}"#).unwrap().validate().is_err());
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
        let proof = parse::<Login>(
            format!(r#"{{"proof":"{}"}}"#, URL_SAFE_NO_PAD.encode(*b"hunter2-proof-hunter2-proof-3210")).as_bytes(),
        )
        .unwrap()
        .validate()
        .unwrap();
        let change = parse::<PasswordChange>(br#"{"current":"hunter2-current","new":"hunter2-new-pass"}"#).unwrap();
        let new_op =
            parse::<NewOperator>(br#"{"tenant":"m1","name":"laptop-ops","password":"hunter2-operator"}"#).unwrap();
        for shown in [
            format!("{login:?}"),
            format!("{proof:?}"),
            format!("{change:?}"),
            format!("{new_op:?}"),
            format!("{:#?}", Some(&login)),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{login:?}").contains("laptop-ops"), "names are not secret");
        assert!(format!("{proof:?}").contains("Proof"));
        assert_eq!(login.password.unwrap().expose(), "hunter2-login-pw");
    }
}
