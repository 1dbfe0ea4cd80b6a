//! Bech32 (BIP 173 checksum, no length limit), as age encodes identities and recipients.

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    let mut chk: u32 = 1;
    for v in values {
        let b = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (b >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &str) -> Vec<u8> {
    let mut out: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    out.push(0);
    out.extend(hrp.bytes().map(|b| b & 31));
    out
}

fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let maxv = (1 << to) - 1;
    let mut out = Vec::new();
    for &v in data {
        if u32::from(v) >> from != 0 {
            return None;
        }
        acc = (acc << from) | u32::from(v);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & maxv) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & maxv) as u8);
        }
    } else if bits >= from || ((acc << (to - bits)) & maxv) != 0 {
        return None;
    }
    Some(out)
}

/// Encodes `data` with a lowercase `hrp`.
pub(crate) fn encode(hrp: &str, data: &[u8]) -> String {
    let values = convert_bits(data, 8, 5, true).unwrap_or_default();
    let mut check_input = hrp_expand(hrp);
    check_input.extend_from_slice(&values);
    check_input.extend_from_slice(&[0; 6]);
    let m = polymod(check_input.into_iter()) ^ 1;
    let mut out = String::with_capacity(hrp.len() + 1 + values.len() + 6);
    out.push_str(hrp);
    out.push('1');
    for v in values {
        out.push(CHARSET[v as usize] as char);
    }
    for i in 0..6 {
        out.push(CHARSET[((m >> (5 * (5 - i))) & 31) as usize] as char);
    }
    out
}

/// Decodes a Bech32 string (all lowercase or all uppercase) into its lowercase HRP and data.
pub(crate) fn decode(s: &str) -> Result<(String, Vec<u8>), &'static str> {
    let lower = s.to_ascii_lowercase();
    if lower != s && s.to_ascii_uppercase() != s {
        return Err("mixed case");
    }
    let pos = lower.rfind('1').ok_or("no separator")?;
    if pos < 1 || pos + 7 > lower.len() {
        return Err("invalid separator position");
    }
    let hrp = &lower[..pos];
    if hrp.bytes().any(|b| !(33..=126).contains(&b)) {
        return Err("invalid character");
    }
    let mut values = Vec::with_capacity(lower.len() - pos - 1);
    for c in lower[pos + 1..].bytes() {
        let v = CHARSET.iter().position(|x| *x == c).ok_or("invalid character")?;
        values.push(v as u8);
    }
    let mut check_input = hrp_expand(hrp);
    check_input.extend_from_slice(&values);
    if polymod(check_input.into_iter()) != 1 {
        return Err("invalid checksum");
    }
    let data = convert_bits(&values[..values.len() - 6], 5, 8, false).ok_or("invalid padding")?;
    Ok((hrp.to_owned(), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // BIP 173 test vector.
        assert!(decode("A12UEL5L").is_ok());
        assert!(decode("a12uel5l").is_ok());
        assert!(decode("A12uEL5L").is_err());
        let s = encode("age", &[1, 2, 3]);
        assert_eq!(decode(&s).unwrap(), ("age".to_owned(), vec![1, 2, 3]));
    }
}
