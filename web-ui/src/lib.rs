//! # soru-web
//!
//! The browser face of Soru: the Leptos playground, withdrawal verifier and commitment checker.
//! Not built out yet; it will drive [`soru_core`] in a Web Worker.
