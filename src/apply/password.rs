//! Password generation and SCRAM-SHA-256 verifiers, so cleartext never leaves this process.

use crate::model::Secret;
use rand::distributions::Alphanumeric;
use rand::Rng;
use rayon::prelude::*;

/// 32 characters from 62: about 190 bits from the OS CSPRNG; alphanumeric so it survives
/// connection strings, .pgpass files and shells unquoted.
pub(crate) fn generate_password() -> Secret {
    let password: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    Secret::new(password)
}

/// The verifier PostgreSQL stores; sending it instead of the password keeps the cleartext out
/// of the server's statement log (docs: CREATE ROLE, "ENCRYPTED" passwords).
pub(crate) fn scram_verifier(password: &Secret) -> Secret {
    Secret::new(postgres_protocol::password::scram_sha_256(
        password.expose().as_bytes(),
    ))
}

/// Verifiers for many passwords, computed on every core, in order; `None` stays `None`.
pub(crate) fn scram_verifiers(passwords: &[Option<Secret>]) -> Vec<Option<Secret>> {
    passwords
        .par_iter()
        .map(|p| p.as_ref().map(scram_verifier))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_verifiers_are_scram() {
        let a = generate_password();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a, generate_password());
        let verifier = scram_verifier(&a);
        assert!(verifier.expose().starts_with("SCRAM-SHA-256$4096:"));
        assert!(!verifier.expose().contains(a.expose()));
    }

    #[test]
    fn parallel_verifiers_keep_order_and_gaps() {
        let passwords: Vec<Option<Secret>> = (0..7)
            .map(|i| (i % 3 != 0).then(generate_password))
            .collect();
        let verifiers = scram_verifiers(&passwords);
        assert_eq!(verifiers.len(), 7);
        for (p, v) in passwords.iter().zip(&verifiers) {
            assert_eq!(p.is_some(), v.is_some());
        }
    }
}
