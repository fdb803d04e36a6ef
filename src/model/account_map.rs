//! [`AccountMap`]: a state's accounts by canonical name.

use super::touched::Touched;
use super::{Account, Text};

/// The accounts of a state by canonical name, in name order. A trace makes a handful, and the
/// lockstep check looks one up on most steps, so they are kept as a sorted vector of (shared
/// name, account): a lookup walks a few entries or binary-searches many, where a `BTreeMap`
/// walks its nodes and compares names on the way. It reads like the map it replaces. Like
/// [`SessionList`](super::SessionList) it marks every account it hands out a way to change, so
/// the invariants look only at those. Two maps are equal when their accounts are (see
/// [`Touched`]).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct AccountMap {
    accounts: Vec<(Text, Account)>,
    touched: Touched,
}

impl AccountMap {
    /// No accounts (the capacity is kept).
    pub fn clear(&mut self) {
        self.accounts.clear();
    }

    /// Where the account `name` is, or where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        match self.position(name) {
            Some(i) => Ok(i),
            None => Err(self.accounts.partition_point(|(n, _)| **n < *name)),
        }
    }

    /// Where the account `name` is. A trace makes a handful of accounts, and most lookups name
    /// one by the very text it was registered with (the operation's shared text, or its one
    /// remembered preparation), or no account at all: a walk that compares lengths, then
    /// addresses, reads a name only when it must; a binary search would read one on every
    /// probe. Many accounts are searched the usual way.
    fn position(&self, name: &str) -> Option<usize> {
        if self.accounts.len() > 16 {
            return self
                .accounts
                .binary_search_by(|(n, _)| (**n).cmp(name))
                .ok();
        }
        self.accounts.iter().position(|(n, _)| {
            n.len() == name.len() && (n.as_ptr() == name.as_ptr() || **n == *name)
        })
    }

    pub fn get(&self, name: &str) -> Option<&Account> {
        self.position(name).map(|i| &self.accounts[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Account> {
        let i = self.position(name)?;
        self.touched.mark(i);
        Some(&mut self.accounts[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Adds or replaces the account `name`; returns the one it replaced.
    pub fn insert(&mut self, name: Text, account: Account) -> Option<Account> {
        match self.find(&name) {
            Ok(i) => {
                self.touched.mark(i);
                Some(std::mem::replace(&mut self.accounts[i].1, account))
            }
            Err(i) => {
                // The accounts after it move up one place: as if each had changed.
                self.touched.mark_all();
                self.accounts.insert(i, (name, account));
                None
            }
        }
    }

    /// Which accounts (by place in name order) changed since the last
    /// [`AccountMap::forget_touched`].
    pub fn touched(&self) -> Touched {
        self.touched
    }

    /// Starts a step: no account has been changed by it yet.
    pub fn forget_touched(&mut self) {
        self.touched.clear();
    }

    /// The account at place `i` in name order, with its name.
    pub fn at(&self, i: usize) -> (&Text, &Account) {
        let (name, account) = &self.accounts[i];
        (name, account)
    }

    /// Every account with its name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Account)> {
        self.accounts.iter().map(|(n, a)| (n, a))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Text> {
        self.accounts.iter().map(|(n, _)| n)
    }

    pub fn values(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().map(|(_, a)| a)
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
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
    type Item = (&'a Text, &'a Account);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Text, Account)>,
        fn(&'a (Text, Account)) -> (&'a Text, &'a Account),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.accounts.iter().map(|(n, a)| (n, a))
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
            let ours_by_str = ours.iter().map(|(n, a)| (n.to_string(), a));
            assert!(ours_by_str.eq(theirs.iter().map(|(n, a)| (n.clone(), a))));
            assert_eq!(
                (ours.len(), ours.is_empty()),
                (theirs.len(), theirs.is_empty())
            );
        }
        for name in ["alice", "bob", "carol", "zoë", ""] {
            assert_eq!(ours.get(name), theirs.get(name), "{name:?}");
            assert_eq!(ours.contains_key(name), theirs.contains_key(name));
        }
        ours.forget_touched();
        let unmarked = ours.clone();
        ours.get_mut("bob").unwrap().failures = 9;
        assert_eq!(ours["bob"].failures, 9);
        let marked: Vec<usize> = ours.touched().below(ours.len()).collect();
        assert_eq!(marked, [1], "bob, second in name order, is the one changed");
        assert_eq!(ours.at(1).0, "bob");
        let mut same_accounts = ours.clone();
        same_accounts.forget_touched();
        assert_eq!(ours, same_accounts, "marks are not part of the map");
        assert_ne!(ours, unmarked, "bob's failures are");
        let carol = Text::from("carol");
        ours.insert(carol.clone(), account(0));
        theirs.insert("carol".into(), account(0));
        assert_eq!(ours.touched().below(ours.len()).count(), ours.len());
        assert!(ours
            .keys()
            .map(|n| n.to_string())
            .eq(theirs.keys().cloned()));
        // Found by its own text, and by an equal one; a name inside it is another name.
        assert!(ours.get(&carol).is_some() && ours.get(String::from("carol").as_str()).is_some());
        assert_eq!(ours.get(&carol[..3]), None);
        assert_eq!(ours.values().count(), theirs.values().count());
    }

    #[test]
    fn many_accounts_are_found_as_a_few_are() {
        // Past 16 accounts a lookup is a binary search: the same answers, in the same order.
        let (mut ours, mut theirs) = (AccountMap::default(), BTreeMap::new());
        for i in (0..40).rev() {
            let name = format!("user{}", i * 7 % 40);
            ours.insert(name.as_str().into(), account(i));
            theirs.insert(name, account(i));
            for probe in ["user0", "user39", "user17", "user", "user40", "zed"] {
                assert_eq!(
                    ours.get(probe),
                    theirs.get(probe),
                    "{probe} among {}",
                    ours.len()
                );
            }
        }
        assert!(ours
            .keys()
            .map(|n| n.to_string())
            .eq(theirs.keys().cloned()));
        ours.get_mut("user23").unwrap().failures = 99;
        assert_eq!(ours["user23"].failures, 99);
    }
}
