//! Bad input never panics: real sops documents, truncated and with bytes flipped, either
//! decrypt or fail with an error that quotes no plaintext.

mod support;

use eddy_sops::{Format, decrypt, is_encrypted};
use support::{Sandbox, age_key, age_keys};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_documents_fail_cleanly() {
    let sb = Sandbox::new();
    let key = age_key(50);
    let keys = age_keys(&[&key]);
    let secret = "Sup3rS3cretValue";
    let cases = [
        ("m.yaml", Format::Yaml, format!("a: {secret}\nb:\n    - 1\n    - x: {secret}\n")),
        (
            "c.yaml",
            Format::Yaml,
            format!("# head\na: {secret} # inline\nb:\n    # item\n    - 1\n    - x: |\n        {secret}\n# foot\n"),
        ),
        ("m.json", Format::Json, format!("{{\"a\": \"{secret}\", \"n\": [1, 2.5, true]}}")),
        ("m.env", Format::Dotenv, format!("# c\nA={secret}\n")),
        ("m.ini", Format::Ini, format!("[s]\na = {secret}\n")),
        ("m.bin", Format::Binary, secret.to_owned()),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, format, plain) in cases {
        let enc = sb.encrypt(name, plain.as_bytes(), &["--age", &key.recipient]);
        assert!(is_encrypted(&enc, format));
        for round in 0..300 {
            let mut doc = enc.clone();
            if round % 3 == 0 {
                doc.truncate(rng.below(doc.len()));
            } else {
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(doc.len());
                    doc[i] = (rng.next() & 0xff) as u8;
                }
            }
            let _ = is_encrypted(&doc, format);
            if let Err(e) = decrypt(&doc, format, &keys) {
                let msg = e.to_string();
                assert!(!msg.contains(secret), "{name} round {round}: error quotes the plaintext: {msg}");
                assert!(!msg.contains(&key.identity), "{name} round {round}: error quotes the key: {msg}");
            }
        }
    }
}
