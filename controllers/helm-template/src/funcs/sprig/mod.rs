//! Sprig v3's functions as Helm exposes them (Helm removes `env` and `expandenv`).

mod collections;
mod misc;
mod strings;

use std::collections::HashMap;

use super::Func;

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    strings::register(m);
    collections::register(m);
    misc::register(m);
}
