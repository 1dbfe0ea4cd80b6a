//! `Range` requests, parsed and answered as Go's `http.ServeContent` does (RFC 7233).

/// One satisfiable byte range of a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) start: u64,
    pub(crate) length: u64,
}

impl ByteRange {
    /// The `Content-Range` value for this range of a `size`-byte representation.
    pub(crate) fn content_range(self, size: u64) -> String {
        // Go prints start+length-1, which for an empty suffix range is start-1.
        let end = (self.start + self.length).wrapping_sub(1) as i64;
        format!("bytes {}-{}/{size}", self.start, end)
    }
}

/// Why a `Range` header cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeError {
    /// Malformed (Go: "invalid range").
    Invalid,
    /// Well-formed, but no range starts inside the representation (Go: "invalid range:
    /// failed to overlap").
    NoOverlap,
}

impl RangeError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Invalid => "invalid range",
            Self::NoOverlap => "invalid range: failed to overlap",
        }
    }
}

/// Go's `textproto.TrimString`: trims ASCII space, tab, CR and LF.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Go's `strconv.ParseInt(s, 10, 64)` for the values a range may hold.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go's `parseRange`: the ranges of `header` for a representation of `size` bytes, in request
/// order. An empty header gives no ranges.
pub(crate) fn parse_range(header: &str, size: u64) -> Result<Vec<ByteRange>, RangeError> {
    if header.is_empty() {
        return Ok(Vec::new());
    }
    let Some(specs) = header.strip_prefix("bytes=") else {
        return Err(RangeError::Invalid);
    };
    let size = i64::try_from(size).map_err(|_| RangeError::Invalid)?;
    let mut ranges = Vec::new();
    let mut no_overlap = false;
    for spec in specs.split(',') {
        let spec = trim(spec);
        if spec.is_empty() {
            continue;
        }
        let Some((start, end)) = spec.split_once('-') else {
            return Err(RangeError::Invalid);
        };
        let (start, end) = (trim(start), trim(end));
        let (first, length) = if start.is_empty() {
            // A suffix: the last `end` bytes.
            if end.is_empty() || end.starts_with('-') {
                return Err(RangeError::Invalid);
            }
            let mut n = parse_int(end).filter(|n| *n >= 0).ok_or(RangeError::Invalid)?;
            if n > size {
                n = size;
            }
            (size - n, n)
        } else {
            let first = parse_int(start).filter(|n| *n >= 0).ok_or(RangeError::Invalid)?;
            if first >= size {
                no_overlap = true;
                continue;
            }
            let length = if end.is_empty() {
                size - first
            } else {
                let mut last = parse_int(end).ok_or(RangeError::Invalid)?;
                if first > last {
                    return Err(RangeError::Invalid);
                }
                if last >= size {
                    last = size - 1;
                }
                last - first + 1
            };
            (first, length)
        };
        ranges.push(ByteRange { start: first.unsigned_abs(), length: length.unsigned_abs() });
    }
    if no_overlap && ranges.is_empty() {
        return Err(RangeError::NoOverlap);
    }
    Ok(ranges)
}

/// The part header of one range in a `multipart/byteranges` body (Go's `mime/multipart`
/// writer: sorted header lines, the first part without a leading CRLF).
pub(crate) fn part_header(boundary: &str, first: bool, range: ByteRange, content_type: &str, size: u64) -> String {
    let lead = if first { "" } else { "\r\n" };
    format!(
        "{lead}--{boundary}\r\nContent-Range: {}\r\nContent-Type: {content_type}\r\n\r\n",
        range.content_range(size)
    )
}

/// The closing line of a `multipart/byteranges` body.
pub(crate) fn closing(boundary: &str) -> String {
    format!("\r\n--{boundary}--\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, length: u64) -> ByteRange {
        ByteRange { start, length }
    }

    #[test]
    fn go_parse_range_table() {
        let size = 10;
        assert_eq!(parse_range("", size), Ok(vec![]));
        assert_eq!(parse_range("foo", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=", size), Ok(vec![]));
        assert_eq!(parse_range("bytes=7", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes= 7 ", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=1-0", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=5-4", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=0-2,5-4", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=2-5,4-3", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=--5,4--3", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=A-", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=A- ", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=A-Z", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes= -Z", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=5-Z", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=Ran-dom, garbage", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=0x01-0x02", size), Err(RangeError::Invalid));
        assert_eq!(parse_range("bytes=         ", size), Ok(vec![]));
        assert_eq!(parse_range("bytes= , , ,   ", size), Ok(vec![]));
        assert_eq!(parse_range("bytes=0-9", size), Ok(vec![r(0, 10)]));
        assert_eq!(parse_range("bytes=0-", size), Ok(vec![r(0, 10)]));
        assert_eq!(parse_range("bytes=5-", size), Ok(vec![r(5, 5)]));
        assert_eq!(parse_range("bytes=0-20", size), Ok(vec![r(0, 10)]));
        assert_eq!(parse_range("bytes=15-,0-5", size), Ok(vec![r(0, 6)]));
        assert_eq!(parse_range("bytes=1-2,5-", size), Ok(vec![r(1, 2), r(5, 5)]));
        assert_eq!(parse_range("bytes=-2 , 7-", size), Ok(vec![r(8, 2), r(7, 3)]));
        assert_eq!(parse_range("bytes=0-0 ,2-2, 7-", size), Ok(vec![r(0, 1), r(2, 1), r(7, 3)]));
        assert_eq!(parse_range("bytes=-5", size), Ok(vec![r(5, 5)]));
        assert_eq!(parse_range("bytes=-15", size), Ok(vec![r(0, 10)]));
        assert_eq!(parse_range("bytes=0-499", 10000), Ok(vec![r(0, 500)]));
        assert_eq!(parse_range("bytes=500-999", 10000), Ok(vec![r(500, 500)]));
        assert_eq!(parse_range("bytes=-500", 10000), Ok(vec![r(9500, 500)]));
        assert_eq!(parse_range("bytes=9500-", 10000), Ok(vec![r(9500, 500)]));
        assert_eq!(parse_range("bytes=0-0,-1", 10000), Ok(vec![r(0, 1), r(9999, 1)]));
        assert_eq!(parse_range("bytes=500-600,601-999", 10000), Ok(vec![r(500, 101), r(601, 399)]));
        assert_eq!(parse_range("bytes=500-700,601-999", 10000), Ok(vec![r(500, 201), r(601, 399)]));
        // Match Apache laxity:
        assert_eq!(parse_range("bytes=   1 -2   ,  4- 5, 7 - 8 , ,,", 11), Ok(vec![r(1, 2), r(4, 2), r(7, 2)]));
        assert_eq!(parse_range("bytes=10-", size), Err(RangeError::NoOverlap));
        assert_eq!(parse_range("bytes=10-20,30-", size), Err(RangeError::NoOverlap));
    }

    #[test]
    fn content_range_and_parts() {
        assert_eq!(r(0, 10).content_range(10), "bytes 0-9/10");
        assert_eq!(
            part_header("B", true, r(1, 2), "text/plain", 10),
            "--B\r\nContent-Range: bytes 1-2/10\r\nContent-Type: text/plain\r\n\r\n"
        );
        assert!(part_header("B", false, r(1, 2), "t", 10).starts_with("\r\n--B\r\n"));
        assert_eq!(closing("B"), "\r\n--B--\r\n");
    }
}
