//! A tar stream writer that produces the same bytes as Go's `archive/tar` for the entries Flux
//! writes: regular files and directories with uid/gid 0, empty user and group names, a zero
//! modification time and no device numbers.
//!
//! Go picks the first format that can hold a header: USTAR (splitting a long ASCII name into
//! its `prefix` field when it can), then PAX (an extended header `<dir>/PaxHeaders.0/<base>`
//! with sorted `path`/`size` records, then a USTAR-shaped header with the name reduced to
//! ASCII and truncated). The field encodings (zero-padded octal with a NUL, a checksum of six
//! digits then NUL and space) are Go's, so the uncompressed stream of an Eddy artifact is
//! byte-for-byte the one source-controller would write for the same tree (the gzip layer is not:
//! Go's deflate is its own).

use std::io::{self, Write};

const BLOCK: usize = 512;
const NAME_SIZE: usize = 100;
const PREFIX_SIZE: usize = 155;
const ZERO_BLOCK: [u8; BLOCK] = [0; BLOCK];

/// The kind of an archived entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Dir,
}

/// Writes tar entries and the two-block trailer to `W`.
#[derive(Debug)]
pub(crate) struct TarWriter<W> {
    inner: W,
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Writes the header(s) of one entry. For a file, exactly `size` bytes of content must
    /// follow through [`Self::write_content`].
    pub(crate) fn write_header(&mut self, name: &[u8], kind: EntryKind, mode: u32, size: u64) -> io::Result<()> {
        let ascii = is_ascii(name);
        let name_fits = ascii && name.len() <= NAME_SIZE;
        let split = split_ustar_path(name);
        let size_fits = fits_in_octal(12, size);
        if (name_fits || split.is_some()) && size_fits {
            let (prefix, base) = split.unwrap_or((&[][..], name));
            let mut block = template(base, kind, mode, size);
            format_string(&mut block[345..500], prefix);
            return self.write_block(&finish(block));
        }
        // PAX: the records Go would emit, sorted by key.
        let mut records = Vec::new();
        if !name_fits && split.is_none() {
            records.extend(pax_record(b"path", name));
        }
        if !size_fits {
            records.extend(pax_record(b"size", size.to_string().as_bytes()));
        }
        self.write_pax_header(name, &records)?;
        self.inner.write_all(&records)?;
        self.pad(records.len() as u64)?;
        let ascii_name = to_ascii(name);
        let block = template(&ascii_name, kind, mode, if size_fits { size } else { 0 });
        self.write_block(&finish(block))
    }

    /// Writes the extended header entry `<dir>/PaxHeaders.0/<base>` carrying `records`.
    fn write_pax_header(&mut self, name: &[u8], records: &[u8]) -> io::Result<()> {
        let (dir, file) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&name[..=i], &name[i + 1..]),
            None => (&[][..], name),
        };
        let mut pax_name = clean_join(dir, file);
        pax_name = to_ascii(&pax_name);
        pax_name.truncate(NAME_SIZE);
        while pax_name.last() == Some(&b'/') {
            pax_name.pop();
        }
        let mut block = [0u8; BLOCK];
        block[156] = b'x';
        format_string(&mut block[0..100], &pax_name);
        format_octal(&mut block[100..108], 0);
        format_octal(&mut block[108..116], 0);
        format_octal(&mut block[116..124], 0);
        format_octal(&mut block[124..136], records.len() as u64);
        format_octal(&mut block[136..148], 0);
        self.write_block(&finish(block))
    }

    /// Writes file content (the caller writes exactly the size declared in the header).
    pub(crate) fn write_content(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.write_all(data)
    }

    /// Pads the content of an entry of `size` bytes to a block boundary.
    pub(crate) fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.inner.write_all(&ZERO_BLOCK[..BLOCK - rem])?;
        }
        Ok(())
    }

    /// Writes the end-of-archive trailer (two zero blocks) and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&ZERO_BLOCK)?;
        self.inner.write_all(&ZERO_BLOCK)?;
        Ok(self.inner)
    }

    fn write_block(&mut self, block: &[u8; BLOCK]) -> io::Result<()> {
        self.inner.write_all(block)
    }
}

/// The fields Go's `templateV7Plus` fills for our headers.
fn template(name: &[u8], kind: EntryKind, mode: u32, size: u64) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[156] = match kind {
        EntryKind::File => b'0',
        EntryKind::Dir => b'5',
    };
    format_string(&mut block[0..100], name);
    format_octal(&mut block[100..108], u64::from(mode));
    format_octal(&mut block[108..116], 0); // uid
    format_octal(&mut block[116..124], 0); // gid
    format_octal(&mut block[124..136], size);
    format_octal(&mut block[136..148], 0); // mtime: Go writes a zero time as the Unix epoch
    format_octal(&mut block[329..337], 0); // devmajor
    format_octal(&mut block[337..345], 0); // devminor
    block
}

/// Sets the USTAR magic and version and the checksum (Go's `block.setFormat`).
fn finish(mut block: [u8; BLOCK]) -> [u8; BLOCK] {
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u64::from(b' ') } else { u64::from(b) })
        .sum();
    format_octal(&mut block[148..155], sum);
    block[155] = b' ';
    block
}

/// Go's `formatter.formatString`: copy, NUL-terminate when shorter, and when truncated never
/// leave a trailing `/` in the field.
fn format_string(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
    if s.len() < field.len() {
        field[s.len()] = 0;
    }
    let last = field.len() - 1;
    if s.len() > field.len() && field[last] == b'/' {
        let mut end = last;
        while end > 0 && s[end - 1] == b'/' {
            end -= 1;
        }
        field[end] = 0;
    }
}

/// Go's `formatter.formatOctal`: zero-padded octal leaving room for a NUL; a value that does
/// not fit is written as zero (the caller then records it in a PAX record).
fn format_octal(field: &mut [u8], value: u64) {
    let value = if fits_in_octal(field.len(), value) { value } else { 0 };
    let digits = format!("{value:o}");
    let pad = field.len().saturating_sub(digits.len() + 1);
    let mut s = vec![b'0'; pad];
    s.extend_from_slice(digits.as_bytes());
    format_string(field, &s);
}

fn fits_in_octal(width: usize, value: u64) -> bool {
    let bits = (width - 1) * 3;
    width >= 22 || value < (1u64 << bits)
}

/// Go's `isASCII`: no byte at or above 0x80 and no NUL.
fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&b| b != 0 && b < 0x80)
}

/// Go's `toASCII`: drops every non-ASCII code point (and NUL).
fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&b| b != 0 && b < 0x80).collect()
}

/// Go's `splitUSTARPath`: splits a long ASCII name at a `/` into a prefix of at most 155 and a
/// name of at most 100 bytes.
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= NAME_SIZE || !is_ascii(name) {
        return None;
    }
    if length > PREFIX_SIZE + 1 {
        length = PREFIX_SIZE + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&b| b == b'/')?;
    let (nlen, plen) = (name.len() - i - 1, i);
    if i == 0 || nlen > NAME_SIZE || nlen == 0 || plen > PREFIX_SIZE {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// `path.Join(dir, "PaxHeaders.0", file)` for the clean relative names the archiver writes.
fn clean_join(dir: &[u8], file: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = dir.split(|&b| b == b'/').filter(|p| !p.is_empty() && *p != b".").collect();
    parts.push(b"PaxHeaders.0");
    if !file.is_empty() && file != b"." {
        parts.push(file);
    }
    parts.join(&b'/')
}

/// Go's `formatPAXRecord`: `"<len> <key>=<value>\n"` where `<len>` counts itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let build = |size: usize| {
        let mut record = format!("{size} ").into_bytes();
        record.extend_from_slice(key);
        record.push(b'=');
        record.extend_from_slice(value);
        record.push(b'\n');
        record
    };
    let mut size = key.len() + value.len() + 3;
    size += size.to_string().len();
    let record = build(size);
    // Adding the length field may have made the record longer than it says.
    if record.len() == size { record } else { build(record.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields_match_go() {
        let mut f = [0xAAu8; 8];
        format_octal(&mut f, 0o750);
        assert_eq!(&f, b"0000750\0");
        let mut f = [0xAAu8; 12];
        format_octal(&mut f, 1);
        assert_eq!(&f, b"00000000001\0");
        let mut f = [0u8; 12];
        format_octal(&mut f, 1 << 33);
        assert_eq!(&f, b"00000000000\0", "a size past 8 GiB is written as zero");
    }

    #[test]
    fn string_fields_never_end_truncated_in_a_slash() {
        let mut f = [0xAAu8; 4];
        format_string(&mut f, b"ab");
        assert_eq!(&f, b"ab\0\xAA");
        let mut f = [0u8; 4];
        format_string(&mut f, b"abc//x");
        assert_eq!(&f, b"abc\0");
    }

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record(b"path", b"a"), b"9 path=a\n");
        let long = vec![b'x'; 93];
        let rec = pax_record(b"path", &long);
        assert_eq!(rec.len(), 103);
        assert!(rec.starts_with(b"103 path="));
        let rec = pax_record(b"path", &[b'y'; 92]);
        assert!(rec.starts_with(b"102 "), "{}", String::from_utf8_lossy(&rec[..4]));
    }

    #[test]
    fn ustar_split_as_go() {
        let long = [vec![b'a'; 60], b"/".to_vec(), vec![b'b'; 60]].concat();
        assert_eq!(split_ustar_path(&long), Some((&long[..60], &long[61..])));
        assert_eq!(split_ustar_path(b"short/name"), None);
        assert_eq!(split_ustar_path(&[b'a'; 120]), None, "no slash");
        let tail = [b"a/".to_vec(), vec![b'b'; 101]].concat();
        assert_eq!(split_ustar_path(&tail), None, "base longer than 100");
    }

    #[test]
    fn pax_header_name_is_under_the_entrys_dir() {
        assert_eq!(clean_join(b"a/b/", b"c"), b"a/b/PaxHeaders.0/c");
        assert_eq!(clean_join(b"", b"c"), b"PaxHeaders.0/c");
    }
}
