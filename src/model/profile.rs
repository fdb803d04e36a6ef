//! Protocol profiles: one pure model, parameterised by the numbers and by named choices that
//! real session services make differently. [`Choices::default`] is this repository's protocol
//! (docs/PROTOCOL.md); every other value of a choice is documented with the rule it changes.
//! Profiles load from TOML files (`profiles/*.toml`, see [`Profile::from_toml`]).

use super::Params;
use serde::{Deserialize, Serialize};

/// What refreshing with the current refresh token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rotation {
    /// Rule 3: a new refresh token (the next generation) and a new access token.
    #[default]
    Rotate,
    /// The refresh token stays the same (no generations, so no grace and no reuse); each
    /// refresh hands out a new access token.
    Keep,
}

/// What presenting the previous refresh token inside the grace window returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GraceRetry {
    /// Rule 3: the current refresh token and a *new* access token.
    #[default]
    NewAccess,
    /// The very pair the rotation returned (the same access token again).
    SamePair,
}

/// What presenting an older refresh token outside the grace window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reuse {
    /// Rule 3: the whole session is revoked (`invalid_grant: reuse`).
    #[default]
    RevokeSession,
    /// The old token is refused (`invalid_grant: reuse`); the session lives on.
    Reject,
}

/// What RFC 7009 revocation of a token ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revoke {
    /// Rule 10: any access or refresh token of a session revokes the session.
    #[default]
    Session,
    /// Only that token: an access token alone; the current refresh token with the access
    /// tokens issued beside it (older refresh tokens are ignored). The session itself — other
    /// access tokens — lives on.
    TokenPair,
    /// The pair: either token of the current pair (the current refresh token and the access
    /// tokens issued beside it) ends both; a token of an older pair ends only itself.
    Pair,
}

/// How usernames are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Usernames {
    /// PRECIS UsernameCaseMapped (PROTOCOL.md §3): case, width and normalisation variants
    /// are one account, in any script.
    #[default]
    Precis,
    /// Byte for byte, and only ASCII letters, digits and `. _ @ + -`, 1 to 150 of them (a
    /// Django-style user model behind a plain registration form).
    ExactAscii,
}

/// Whether and how accounts lock after wrong passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lockout {
    /// Rule 6: `lockout_threshold` wrong passwords lock for `lockout_duration`; `locked`.
    #[default]
    Distinct,
    /// The same lock, but a locked account answers `invalid_credentials` (it does not tell
    /// an attacker that the account exists and is locked).
    AsInvalidCredentials,
    /// No lockout at all: wrong passwords are never counted.
    None,
}

/// The named protocol choices. Each field says the rule of docs/PROTOCOL.md it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct Choices {
    /// Rule 3: rotation of refresh tokens.
    pub rotation: Rotation,
    /// Rule 3: the answer to a grace retry.
    pub grace_retry: GraceRetry,
    /// Rule 3: what reuse of an old refresh token ends.
    pub reuse: Reuse,
    /// Rule 4: a refresh ends the access token issued with the refresh token it consumed (one
    /// live access token per session, as OAuth servers that store access and refresh tokens as
    /// a pair do).
    pub rotation_ends_previous_access: bool,
    /// Rule 10: what revocation ends.
    pub revoke: Revoke,
    /// Rule 5: `AdminDisable` revokes every session of the user; else its tokens live on and
    /// only new logins are refused.
    pub disable_ends_sessions: bool,
    /// Rules 1 and 5: `ChangePassword` revokes every other session of the user.
    pub password_change_ends_other_sessions: bool,
    /// Rule 6: lockout.
    pub lockout: Lockout,
    /// Rules 2 and 7: MFA accounts and the upstream OTP provider exist.
    pub mfa: bool,
    /// Rule 4: `Sensitive` needs a recent factor (`step_up_required`), and `Reauthenticate`
    /// exists to give one.
    pub step_up: bool,
    /// Rule 5: logout exists at all.
    pub logout: bool,
    /// Rule 5: logout has the `others` and `global` scopes (else it ends this session only).
    pub logout_scopes: bool,
    /// Rule 1: `ChangePassword` exists.
    pub password_change: bool,
    /// Rule 5: the admin operations (disable, enable, unlock) exist.
    pub admin: bool,
    /// §3: how usernames are compared.
    pub usernames: Usernames,
}

impl Default for Choices {
    fn default() -> Self {
        Choices::PROTOCOL
    }
}

impl Choices {
    /// This repository's protocol (docs/PROTOCOL.md).
    pub const PROTOCOL: Choices = Choices {
        rotation: Rotation::Rotate,
        grace_retry: GraceRetry::NewAccess,
        reuse: Reuse::RevokeSession,
        rotation_ends_previous_access: false,
        revoke: Revoke::Session,
        disable_ends_sessions: true,
        password_change_ends_other_sessions: true,
        lockout: Lockout::Distinct,
        mfa: true,
        step_up: true,
        logout: true,
        logout_scopes: true,
        password_change: true,
        admin: true,
        usernames: Usernames::Precis,
    };
}

impl Choices {
    /// The choices that differ from this repository's protocol, as `key=value` words (the
    /// values as a profile file spells them: `reuse=reject`, `mfa=false`).
    pub fn changed(&self) -> Vec<String> {
        let (Ok(mine), Ok(theirs)) = (
            toml::Table::try_from(self),
            toml::Table::try_from(Choices::default()),
        ) else {
            return Vec::new();
        };
        mine.iter()
            .filter(|(k, v)| theirs.get(*k) != Some(*v))
            .map(|(k, v)| match v {
                toml::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect()
    }
}

/// `key=value` words over this repository's choices (what [`Choices::changed`] prints, and
/// what a trace's `choices:` header holds).
impl std::str::FromStr for Choices {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut table = toml::Table::new();
        for word in s.split_whitespace() {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("{word:?}: expected key=value"))?;
            let value = match value {
                "true" => toml::Value::Boolean(true),
                "false" => toml::Value::Boolean(false),
                other => toml::Value::String(other.to_owned()),
            };
            table.insert(key.to_owned(), value);
        }
        Choices::deserialize(table).map_err(|e| e.to_string())
    }
}

impl std::fmt::Display for Choices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.changed().join(" "))
    }
}

/// A named profile: the protocol numbers and the choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub params: Params,
    pub choices: Choices,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "design".into(),
            description: "this repository's protocol (docs/PROTOCOL.md)".into(),
            params: Params::default(),
            choices: Choices::default(),
        }
    }
}

/// The TOML form of a profile.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    numbers: toml::Table,
    #[serde(default)]
    choices: Choices,
}

impl Profile {
    /// Parses a profile; errors name `origin` (the file), the key, and the allowed values.
    pub fn from_toml(origin: &str, text: &str) -> Result<Profile, String> {
        let file: ProfileFile = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            match e.span().map(|s| line_of(text, s.start)) {
                Some(line) => format!("{origin}:{line}: {message}"),
                None => format!("{origin}: {message}"),
            }
        })?;
        let mut params = Params::default();
        for (key, value) in &file.numbers {
            let value = value.as_integer().filter(|v| *v >= 0).ok_or_else(|| {
                format!("{origin}: numbers.{key} = {value}: expected a whole number of seconds (or a count)")
            })?;
            params
                .set(key, value as u64)
                .map_err(|e| format!("{origin}: numbers.{key}: {e}"))?;
        }
        Ok(Profile {
            name: file.name,
            description: file.description,
            params,
            choices: file.choices,
        })
    }

    /// Reads a profile file.
    pub fn load(path: &std::path::Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Profile::from_toml(&path.display().to_string(), &text)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_reads_its_numbers_and_choices() {
        let p = Profile::from_toml(
            "x.toml",
            "name = \"x\"\n[numbers]\nrefresh_grace = 0\n[choices]\nreuse = \"reject\"\nmfa = false\n",
        )
        .unwrap();
        assert_eq!(p.params.refresh_grace, 0);
        assert_eq!(p.choices.reuse, Reuse::Reject);
        assert!(!p.choices.mfa);
        assert_eq!(p.choices.to_string(), "mfa=false reuse=reject");
        assert_eq!(p.choices.to_string().parse::<Choices>(), Ok(p.choices));
        assert!("reuse=forgive".parse::<Choices>().is_err());
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_allowed_values() {
        let e = Profile::from_toml("p.toml", "name = \"x\"\n[choices]\nreuse = \"forgive\"\n")
            .unwrap_err();
        assert!(e.starts_with("p.toml:3"), "{e}");
        assert!(e.contains("revoke-session") && e.contains("reject"), "{e}");
        let e =
            Profile::from_toml("p.toml", "name = \"x\"\n[choices]\nrotate = true\n").unwrap_err();
        assert!(e.contains("rotate") && e.contains("rotation"), "{e}");
        let e = Profile::from_toml("p.toml", "name = \"x\"\n[numbers]\ngrace = 1\n").unwrap_err();
        assert!(
            e.contains("numbers.grace") && e.contains("refresh_grace"),
            "{e}"
        );
    }
}
