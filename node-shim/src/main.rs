//! `soru`: the command-line face of Soru.

fn main() {
    println!("soru {}", env!("CARGO_PKG_VERSION"));
}
