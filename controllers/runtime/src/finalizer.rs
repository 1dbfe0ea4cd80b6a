//! Flux's finalizer, `finalizers.fluxcd.io`, on typed objects.
//!
//! A Flux controller adds its finalizer before doing anything else (and requeues), so that
//! deleting the object lets the controller clean up (artifacts, applied objects) first; it
//! removes the finalizer as the last step of that clean-up. These helpers edit the typed
//! object; [`crate::patch::SerialPatcher`] sends the change.

use crate::object::{FINALIZER, FluxObject};

/// Adds the Flux finalizer; returns whether it was missing.
pub fn add<T: FluxObject>(obj: &mut T) -> bool {
    let list = obj.meta_mut().finalizers.get_or_insert_with(Vec::new);
    if list.iter().any(|f| f == FINALIZER) {
        return false;
    }
    list.push(FINALIZER.to_owned());
    true
}

/// Removes the Flux finalizer; returns whether it was there.
pub fn remove<T: FluxObject>(obj: &mut T) -> bool {
    let Some(list) = obj.meta_mut().finalizers.as_mut() else { return false };
    let before = list.len();
    list.retain(|f| f != FINALIZER);
    let removed = list.len() != before;
    if list.is_empty() {
        obj.meta_mut().finalizers = None;
    }
    removed
}

#[cfg(test)]
mod tests {
    use eddy_api::source::GitRepository;

    use super::*;

    #[test]
    fn add_and_remove_keep_other_finalizers() {
        let mut o = GitRepository::new("a", "b");
        o.metadata.finalizers = Some(vec!["other".into()]);
        assert!(add(&mut o));
        assert!(!add(&mut o));
        assert!(o.has_finalizer(FINALIZER));
        assert!(remove(&mut o));
        assert!(!remove(&mut o));
        assert_eq!(o.metadata.finalizers, Some(vec!["other".to_owned()]));
        let mut o = GitRepository::new("a", "b");
        add(&mut o);
        remove(&mut o);
        assert_eq!(o.metadata.finalizers, None);
    }
}
