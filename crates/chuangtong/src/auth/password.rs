//! Password hashing (argon2id, the OWASP-recommended default parameters) and
//! the password policy (等保: 口令复杂度).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::web::error::{AppError, FieldErrors};

/// Hashes on a blocking thread: argon2 deliberately takes tens of milliseconds.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Verifies on a blocking thread. A malformed stored hash counts as a mismatch.
pub async fn verify(password: String, phc: String) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await?)
}

/// A hash to verify against when the user does not exist, so that a wrong
/// username takes as long as a wrong password and reveals nothing.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("chuangtong-dummy-password").expect("hashing works"))
}

/// Policy: at least 10 characters, letters and digits, not the username.
pub fn check_policy(field: &str, username: &str, password: &str) -> Result<(), AppError> {
    let mut errors = FieldErrors::default();
    let chars = password.chars().count();
    if chars < 10 {
        errors.push(field, "password.too_short", format!("密码至少10位，当前{chars}位"));
    } else if chars > 128 {
        errors.push(field, "password.too_long", "密码不能超过128位");
    } else if !(password.chars().any(|c| c.is_ascii_alphabetic()) && password.chars().any(|c| c.is_ascii_digit())) {
        errors.push(field, "password.too_weak", "密码须同时包含字母和数字");
    } else if password.eq_ignore_ascii_case(username) {
        errors.push(field, "password.same_as_username", "密码不能与用户名相同");
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_reasons() {
        let code = |p: &str| match check_policy("p", "alice", p) {
            Err(AppError::Validation(f)) => f[0].code.clone(),
            Ok(()) => "ok".into(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(code("short1"), "password.too_short");
        assert_eq!(code("onlyletterslong"), "password.too_weak");
        assert_eq!(code("12345678901"), "password.too_weak");
        assert_eq!(code("goodpassw0rd"), "ok");
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse 9".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse 9".into(), h.clone()).await.unwrap());
        assert!(!verify("wrong horse 9".into(), h).await.unwrap());
        assert!(!verify("x".into(), "not a hash".into()).await.unwrap());
    }
}
