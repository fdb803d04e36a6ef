//! [`AccountMap`]: a state's accounts by canonical name.

use super::Account;

/// The accounts of a state by canonical name, in name order. A trace makes a handful, and the
/// lockstep check reads them on every step (a lookup for most operations, a walk over all of
/// them for the invariants), so they are kept as a sorted vector: a lookup is a binary search
/// and a walk is a slice, where a `BTreeMap` walks its nodes. It reads like the map it replaces.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct AccountMap(Vec<(String, Account)>);

impl AccountMap {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Account> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Account> {
        self.find(name).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Adds or replaces the account `name`; returns the one it replaced.
    pub fn insert(&mut self, name: String, account: Account) -> Option<Account> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, account)),
            Err(i) => {
                self.0.insert(i, (name, account));
                None
            }
        }
    }

    /// Every account with its name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Account)> {
        self.0.iter().map(|(n, a)| (n, a))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(n, _)| n)
    }

    pub fn values(&self) -> impl Iterator<Item = &Account> {
        self.0.iter().map(|(_, a)| a)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for AccountMap {
    type Output = Account;

    fn index(&self, name: &str) -> &Account {
        self.get(name)
            .unwrap_or_else(|| panic!("no account named {name:?}"))
    }
}

impl<'a> IntoIterator for &'a AccountMap {
    type Item = (&'a String, &'a Account);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Account)>,
        fn(&'a (String, Account)) -> (&'a String, &'a Account),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(n, a)| (n, a))
    }
}

/// Printed as the map it is (`{"alice": Account { .. }}`).
impl std::fmt::Debug for AccountMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn account(failures: u32) -> Account {
        Account {
            password: "correct horse battery".into(),
            mfa: false,
            disabled: false,
            failures,
            locked_until: None,
        }
    }

    #[test]
    fn it_answers_as_a_btree_map_does() {
        let (mut ours, mut theirs) = (AccountMap::default(), BTreeMap::new());
        for (i, name) in ["mallory", "alice", "émilie", "bob", "alice", "zoë", "bob"]
            .into_iter()
            .enumerate()
        {
            let failures = i as u32;
            assert_eq!(
                ours.insert(name.into(), account(failures)),
                theirs.insert(name.to_string(), account(failures)),
            );
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
            assert!(ours.iter().eq(theirs.iter()));
            assert_eq!(
                (ours.len(), ours.is_empty()),
                (theirs.len(), theirs.is_empty())
            );
        }
        for name in ["alice", "bob", "carol", "zoë", ""] {
            assert_eq!(ours.get(name), theirs.get(name), "{name:?}");
            assert_eq!(ours.contains_key(name), theirs.contains_key(name));
        }
        ours.get_mut("bob").unwrap().failures = 9;
        assert_eq!(ours["bob"].failures, 9);
        assert!(ours.keys().eq(theirs.keys()));
        assert_eq!(ours.values().count(), theirs.values().count());
    }
}
