//! The instance location as the library keeps it while validating: a Go slice of tokens.
//! Every validator of a value passes its slice on, and `append` writes a child's token in
//! place while the backing array has room, so the validators of sibling members share one
//! array. Errors copy the tokens when they are made, except `propertyNames` errors, which
//! keep the slice itself: they show what the array holds once validation is over (a later
//! sibling's token where the member's was).

use std::cell::RefCell;
use std::rc::Rc;

/// Go's size classes (bytes) for small heap objects (`internal/runtime/gc`, Go 1.26).
const SIZE_CLASSES: &[usize] = &[
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480,
    512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864,
    5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480,
    21760, 24576, 27264, 28672, 32768,
];
/// The size of a Go string header, the slice's element.
const ELEM: usize = 16;
const MAX_SMALL: usize = 32768;
const MALLOC_HEADER: usize = 8;
const MIN_SIZE_FOR_HEADER: usize = 512;
const PAGE: usize = 8192;

/// A slice of location tokens: a shared backing array, a length and a capacity.
#[derive(Clone, Debug)]
pub(crate) struct Loc {
    buf: Rc<RefCell<Vec<String>>>,
    len: usize,
    cap: usize,
}

impl Default for Loc {
    /// `make([]string, 0, 8)`, as each validation starts.
    fn default() -> Self {
        Loc { buf: Rc::default(), len: 0, cap: 8 }
    }
}

impl Loc {
    /// `append(loc, tok)`.
    pub(crate) fn push(&self, tok: String) -> Loc {
        if self.len < self.cap {
            let mut b = self.buf.borrow_mut();
            if b.len() > self.len {
                b[self.len] = tok;
            } else {
                b.push(tok);
            }
            return Loc { buf: self.buf.clone(), len: self.len + 1, cap: self.cap };
        }
        let mut items: Vec<String> = self.buf.borrow().iter().take(self.len).cloned().collect();
        items.push(tok);
        Loc { buf: Rc::new(RefCell::new(items)), len: self.len + 1, cap: grow(self.cap, self.len + 1) }
    }

    /// The tokens the slice holds now.
    pub(crate) fn tokens(&self) -> Vec<String> {
        self.buf.borrow().iter().take(self.len).cloned().collect()
    }
}

/// The capacity `append` gives a `[]string` of capacity `old` growing to `len` elements
/// (`nextslicecap`, then the allocation rounded up to its size class).
fn grow(old: usize, len: usize) -> usize {
    let double = old.saturating_mul(2);
    let mut cap = if len > double {
        len
    } else if old < 256 {
        double
    } else {
        let mut c = old;
        loop {
            c = c.saturating_add((c + 768) >> 2);
            if c >= len {
                break c;
            }
        }
    };
    cap = cap.max(len);
    round_up(cap.saturating_mul(ELEM)) / ELEM
}

/// `roundupsize` for an object holding pointers.
fn round_up(size: usize) -> usize {
    if size <= MAX_SMALL - MALLOC_HEADER {
        let req = if size > MIN_SIZE_FOR_HEADER { size + MALLOC_HEADER } else { size };
        let class = SIZE_CLASSES.iter().copied().find(|&c| c >= req).unwrap_or(MAX_SMALL);
        return class - (req - size);
    }
    size.div_ceil(PAGE).saturating_mul(PAGE)
}

#[cfg(test)]
mod tests {
    use super::{Loc, grow};

    #[test]
    fn capacities_follow_go() {
        let mut caps = vec![8];
        while caps.len() < 11 {
            let c = *caps.last().unwrap_or(&8);
            caps.push(grow(c, c + 1));
        }
        assert_eq!(caps, [8, 16, 32, 71, 143, 303, 591, 1023, 1535, 2560, 3584]);
    }

    #[test]
    fn siblings_share_the_array() {
        let root = Loc::default();
        let a = root.push("a".into());
        let b = root.push("b".into());
        assert_eq!(a.tokens(), ["b"]);
        assert_eq!(b.tokens(), ["b"]);
        let deep = (0..8).fold(Loc::default(), |l, i| l.push(i.to_string()));
        let x = deep.push("x".into());
        let y = deep.push("y".into());
        assert_eq!(x.tokens().last().map(String::as_str), Some("x"));
        assert_eq!(y.tokens().last().map(String::as_str), Some("y"));
    }
}
