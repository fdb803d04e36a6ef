//! [`Touched`]: which elements of one of the state's lists the current step may have changed.

/// The indexes of a list that the current step changed, or may have: the lists of the state
/// ([`SessionList`](super::SessionList), [`AccountMap`](super::AccountMap)) mark an element
/// whenever they hand out a way to change it, so the invariants can compare only those and know
/// every other element is as it was. A step that may change them all (a walk with `iter_mut`,
/// an insertion that shifts the rest) marks them all.
///
/// Marks are bookkeeping of the step in progress, not part of a state: any two compare equal
/// and hash alike, so the lists that carry them derive their equality and hashing from their
/// elements alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Touched {
    /// Bit `i`: index `i` (for the first 64; a trace rarely has more).
    low: u64,
    /// Every index (also what a mark beyond the first 64 becomes).
    all: bool,
}

impl Touched {
    pub fn mark(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
        } else {
            self.all = true;
        }
    }

    pub fn mark_all(&mut self) {
        self.all = true;
    }

    /// Whether nothing is marked.
    #[inline]
    pub fn is_empty(self) -> bool {
        (self.low == 0) & !self.all
    }

    /// Forgets every mark (at the start of a step).
    pub fn clear(&mut self) {
        *self = Touched::default();
    }

    /// The marked indexes below `len`, in order (all of them when every index is marked).
    pub fn below(self, len: usize) -> impl Iterator<Item = usize> {
        let mut bits = if self.all { 0 } else { self.low };
        let mut every = if self.all { 0..len } else { 0..0 };
        std::iter::from_fn(move || {
            every.next().or_else(|| {
                if bits == 0 {
                    return None;
                }
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // Marks come lowest first: the first at or past `len` ends them.
                (i < len).then_some(i)
            })
        })
    }
}

impl PartialEq for Touched {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Touched {}

impl std::hash::Hash for Touched {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn below(t: Touched, len: usize) -> Vec<usize> {
        t.below(len).collect()
    }

    #[test]
    fn it_yields_what_was_marked_below_the_length() {
        let mut t = Touched::default();
        assert_eq!(below(t, 10), Vec::<usize>::new());
        for i in [5, 0, 63, 5, 9] {
            t.mark(i);
        }
        assert_eq!(below(t, 64), [0, 5, 9, 63]);
        assert_eq!(below(t, 9), [0, 5]);
        assert_eq!(below(t, 0), Vec::<usize>::new());
        t.mark(64);
        assert_eq!(below(t, 3), [0, 1, 2], "a mark past 64 marks everything");
        t.clear();
        t.mark_all();
        assert_eq!(below(t, 4), [0, 1, 2, 3]);
        t.clear();
        assert_eq!(below(t, 4), Vec::<usize>::new());
        assert!(t.is_empty());
        t.mark(70);
        assert!(!t.is_empty(), "a mark past 64 is a mark");
        t.clear();
        t.mark(0);
        assert!(!t.is_empty());
    }
}
