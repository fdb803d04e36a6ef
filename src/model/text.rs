//! [`Text`]: the text an operation carries (a name, a password), shared and immutable, with
//! its RFC 8265 preparations worked out at most once.

use std::sync::{Arc, OnceLock};

/// The text an operation carries (a name, a password): shared, so that copying an operation (a
/// shrink candidate, a concurrent branch, an account's stored password) copies no text. Build
/// one with `"alice".into()` or `String::into`; it reads as a `str`.
///
/// A text also remembers what RFC 8265 makes of it as a username and as a password: the model
/// prepares a name or password on most steps, and generated traces use the same few texts over
/// and over (a 128-emoji password is 512 bytes to map and normalise). Equality, order and
/// hashing are those of the string.
#[derive(Clone)]
pub struct Text(Arc<Shared>);

struct Shared {
    text: Box<str>,
    /// UsernameCaseMapped: `None` disallowed, `Some(None)` as typed, `Some(Some(p))` mapped.
    name: OnceLock<Preparation>,
    /// OpaqueString, the same way.
    password: OnceLock<Preparation>,
}

/// What preparation made of a text: `None` disallowed, `Some(None)` the text as typed,
/// `Some(Some(p))` the different text `p`.
pub(super) type Preparation = Option<Option<Text>>;

impl Text {
    /// Whether `self` and `other` are one shared text (equal without comparing them).
    pub fn same(&self, other: &Text) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// This text's preparation as a username, worked out by `prepare` the first time.
    pub(super) fn as_name(&self, prepare: impl FnOnce(&str) -> Preparation) -> &Preparation {
        self.0.name.get_or_init(|| prepare(self))
    }

    /// This text's preparation as a password, worked out by `prepare` the first time.
    pub(super) fn as_password(&self, prepare: impl FnOnce(&str) -> Preparation) -> &Preparation {
        self.0.password.get_or_init(|| prepare(self))
    }
}

impl From<Box<str>> for Text {
    fn from(text: Box<str>) -> Self {
        Text(Arc::new(Shared {
            text,
            name: OnceLock::new(),
            password: OnceLock::new(),
        }))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        text.into_boxed_str().into()
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Box::<str>::from(text).into()
    }
}

impl From<std::borrow::Cow<'_, str>> for Text {
    fn from(text: std::borrow::Cow<'_, str>) -> Self {
        text.into_owned().into()
    }
}

impl From<&String> for Text {
    fn from(text: &String) -> Self {
        text.as_str().into()
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0.text
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.same(other) || **self == **other
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    fn hash_of(x: &(impl Hash + ?Sized)) -> u64 {
        let mut h = DefaultHasher::new();
        x.hash(&mut h);
        h.finish()
    }

    #[test]
    fn a_text_compares_hashes_and_prints_as_its_string() {
        let (a, b): (Text, Text) = ("alice".into(), String::from("alice").into());
        assert!(a == b && !a.same(&b) && a.same(&a.clone()));
        assert_eq!(hash_of(&a), hash_of("alice"));
        let bob: Text = "bob".into();
        assert_eq!(a.cmp(&bob), std::cmp::Ordering::Less);
        assert_eq!(format!("{a} {a:?}"), "alice \"alice\"");
        assert!(a == "alice");
    }

    #[test]
    fn a_preparation_is_worked_out_once_per_shared_text() {
        let text: Text = "Alice".into();
        let copy = text.clone();
        let mut calls = 0;
        for t in [&text, &copy] {
            let p = t.as_name(|s| {
                calls += 1;
                Some(Some(s.to_lowercase().into()))
            });
            assert_eq!(p.clone().flatten().as_deref(), Some("alice"));
        }
        assert_eq!(calls, 1);
        assert_eq!(
            text.as_password(|_| None),
            &None,
            "the other slot is separate"
        );
    }
}
