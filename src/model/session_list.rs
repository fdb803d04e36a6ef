//! [`SessionList`]: a state's sessions, and which of them the current step changed.

use super::touched::Touched;
use super::Session;

/// The sessions of a state in the order they were created (a session's handle is its index).
/// It reads as a slice; every way it hands out to change a session marks that session, so the
/// invariants compare only the sessions a step touched and know the rest are as they were.
/// Two lists are equal when their sessions are (see [`Touched`]).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SessionList {
    sessions: Vec<Session>,
    touched: Touched,
}

impl SessionList {
    pub fn push(&mut self, session: Session) {
        self.sessions.push(session);
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut Session> {
        let session = self.sessions.get_mut(i)?;
        self.touched.mark(i);
        Some(session)
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Session> {
        self.touched.mark_all();
        self.sessions.iter_mut()
    }

    /// Keeps the first `len` sessions.
    pub fn truncate(&mut self, len: usize) {
        self.sessions.truncate(len);
    }

    pub fn clear(&mut self) {
        self.sessions.clear();
    }

    /// Which sessions changed since the last [`SessionList::forget_touched`].
    pub fn touched(&self) -> Touched {
        self.touched
    }

    /// Starts a step: no session has been changed by it yet.
    pub fn forget_touched(&mut self) {
        self.touched.clear();
    }
}

impl std::ops::Deref for SessionList {
    type Target = [Session];

    fn deref(&self) -> &[Session] {
        &self.sessions
    }
}

impl std::ops::IndexMut<usize> for SessionList {
    fn index_mut(&mut self, i: usize) -> &mut Session {
        self.touched.mark(i);
        &mut self.sessions[i]
    }
}

impl<I: std::slice::SliceIndex<[Session]>> std::ops::Index<I> for SessionList {
    type Output = I::Output;

    fn index(&self, i: I) -> &I::Output {
        &self.sessions[i]
    }
}

impl<'a> IntoIterator for &'a SessionList {
    type Item = &'a Session;
    type IntoIter = std::slice::Iter<'a, Session>;

    fn into_iter(self) -> Self::IntoIter {
        self.sessions.iter()
    }
}

/// Printed as the list it is.
impl std::fmt::Debug for SessionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.sessions.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Aal;
    use std::hash::BuildHasher;

    fn list(n: usize) -> SessionList {
        let mut l = SessionList::default();
        for _ in 0..n {
            l.push(Session {
                user: "alice".into(),
                aal: Aal::Aal1,
                created_at: 0,
                auth_time: 0,
                last_active: 0,
                generation: 0,
                rotated_at: None,
                access_epoch: 0,
                revoked: false,
                refresh_revoked: false,
            });
        }
        l
    }

    fn touched(l: &SessionList) -> Vec<usize> {
        l.touched().below(l.len()).collect()
    }

    #[test]
    fn every_way_to_change_a_session_marks_it() {
        let mut l = list(4);
        assert_eq!(
            touched(&l),
            Vec::<usize>::new(),
            "pushing changes no session"
        );
        l[2].revoked = true;
        l.get_mut(0).unwrap().generation = 1;
        assert!(l.get_mut(9).is_none());
        assert_eq!(touched(&l), [0, 2]);
        let _ = &l[1];
        let _ = l.get(3);
        assert_eq!(touched(&l), [0, 2], "reading marks nothing");
        l.forget_touched();
        assert_eq!(touched(&l), Vec::<usize>::new());
        l.iter_mut().for_each(|_| {});
        assert_eq!(touched(&l), [0, 1, 2, 3]);
    }

    #[test]
    fn equality_hashing_and_printing_ignore_the_marks() {
        let (a, mut b) = (list(2), list(2));
        b[1].last_active = 0;
        assert_ne!(touched(&a), touched(&b));
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), format!("{:?}", a.sessions));
        let hasher = std::hash::RandomState::new();
        assert_eq!(hasher.hash_one(&a), hasher.hash_one(&b));
    }
}
