//! The `Content-Type` Go's file server picks: `mime.TypeByExtension` over Go's built-in table
//! (Flux's image is Alpine without a `mime.types`, so only the built-in table applies), else
//! `http.DetectContentType` on the first 512 bytes. So `.tar.gz` is `application/gzip` (by
//! `.gz`) and `.tgz` is `application/x-gzip` (sniffed).
//!
//! The sniffer implements Go's signatures for HTML, XML, PDF, PostScript, UTF byte-order marks,
//! the common image formats and archives, then its text rule; Go's audio, video and font
//! signatures are not implemented (such content is reported as text or
//! `application/octet-stream`), as artifact storage never serves them.

/// How many bytes the sniffer looks at.
pub(crate) const SNIFF_LEN: usize = 512;

/// Go's `builtinTypesLower`.
const BUILTIN: &[(&str, &str)] = &[
    (".ai", "application/postscript"),
    (".apk", "application/vnd.android.package-archive"),
    (".apng", "image/apng"),
    (".avif", "image/avif"),
    (".bin", "application/octet-stream"),
    (".bmp", "image/bmp"),
    (".com", "application/octet-stream"),
    (".css", "text/css; charset=utf-8"),
    (".csv", "text/csv; charset=utf-8"),
    (".doc", "application/msword"),
    (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (".ehtml", "text/html; charset=utf-8"),
    (".eml", "message/rfc822"),
    (".eps", "application/postscript"),
    (".exe", "application/octet-stream"),
    (".flac", "audio/flac"),
    (".gif", "image/gif"),
    (".gz", "application/gzip"),
    (".htm", "text/html; charset=utf-8"),
    (".html", "text/html; charset=utf-8"),
    (".ico", "image/vnd.microsoft.icon"),
    (".ics", "text/calendar; charset=utf-8"),
    (".jfif", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".jpg", "image/jpeg"),
    (".js", "text/javascript; charset=utf-8"),
    (".json", "application/json"),
    (".m4a", "audio/mp4"),
    (".mjs", "text/javascript; charset=utf-8"),
    (".mp3", "audio/mpeg"),
    (".mp4", "video/mp4"),
    (".oga", "audio/ogg"),
    (".ogg", "audio/ogg"),
    (".ogv", "video/ogg"),
    (".opus", "audio/ogg"),
    (".pdf", "application/pdf"),
    (".pjp", "image/jpeg"),
    (".pjpeg", "image/jpeg"),
    (".png", "image/png"),
    (".ppt", "application/vnd.ms-powerpoint"),
    (".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    (".ps", "application/postscript"),
    (".rdf", "application/rdf+xml"),
    (".rtf", "application/rtf"),
    (".shtml", "text/html; charset=utf-8"),
    (".svg", "image/svg+xml"),
    (".text", "text/plain; charset=utf-8"),
    (".tif", "image/tiff"),
    (".tiff", "image/tiff"),
    (".txt", "text/plain; charset=utf-8"),
    (".vtt", "text/vtt; charset=utf-8"),
    (".wasm", "application/wasm"),
    (".wav", "audio/wav"),
    (".webm", "audio/webm"),
    (".webp", "image/webp"),
    (".xbl", "text/xml; charset=utf-8"),
    (".xbm", "image/x-xbitmap"),
    (".xht", "application/xhtml+xml"),
    (".xhtml", "application/xhtml+xml"),
    (".xls", "application/vnd.ms-excel"),
    (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (".xml", "text/xml; charset=utf-8"),
    (".xsl", "text/xml; charset=utf-8"),
    (".zip", "application/zip"),
];

/// Go's `mime.TypeByExtension(filepath.Ext(name))` with only the built-in table.
pub(crate) fn type_by_extension(name: &str) -> Option<&'static str> {
    let ext = &name[name.rfind('.')?..];
    let lower = ext.to_ascii_lowercase();
    BUILTIN.iter().find(|(e, _)| *e == ext || *e == lower).map(|(_, t)| *t)
}

const HTML_TAGS: &[&[u8]] = &[
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

const EXACT: &[(&[u8], &str)] = &[(b"%PDF-", "application/pdf"), (b"%!PS-Adobe-", "application/postscript")];

const BOMS: &[(&[u8], &str)] = &[
    (b"\xFE\xFF", "text/plain; charset=utf-16be"),
    (b"\xFF\xFE", "text/plain; charset=utf-16le"),
    (b"\xEF\xBB\xBF", "text/plain; charset=utf-8"),
];

const BINARY: &[(&[u8], &str)] = &[
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00\x61\x73\x6D", "application/wasm"),
];

/// Go's `http.DetectContentType` (see the module docs for what is covered).
pub(crate) fn detect(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(SNIFF_LEN)];
    let first = data.iter().position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')).unwrap_or(data.len());
    let trimmed = &data[first..];
    for tag in HTML_TAGS {
        if trimmed.len() > tag.len()
            && tag.iter().zip(trimmed).all(|(&t, &d)| if t.is_ascii_uppercase() { d & 0xDF == t } else { d == t })
            && matches!(trimmed[tag.len()], b' ' | b'>')
        {
            return "text/html; charset=utf-8";
        }
    }
    if trimmed.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    for (sig, ct) in EXACT {
        if data.starts_with(sig) {
            return ct;
        }
    }
    // Go's BOM signatures are masked to 4 bytes, so they need that much data.
    for (sig, ct) in BOMS {
        if data.len() >= 4 && data.starts_with(sig) {
            return ct;
        }
    }
    for (sig, ct) in BINARY {
        if data.starts_with(sig) {
            return ct;
        }
    }
    if trimmed.iter().any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F)) {
        return "application/octet-stream";
    }
    "text/plain; charset=utf-8"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_as_go() {
        assert_eq!(type_by_extension("abc.tar.gz"), Some("application/gzip"));
        assert_eq!(type_by_extension("x.TXT"), Some("text/plain; charset=utf-8"));
        assert_eq!(type_by_extension("chart-1.0.0.tgz"), None);
        assert_eq!(type_by_extension("index.yaml"), None);
        assert_eq!(type_by_extension("noext"), None);
    }

    #[test]
    fn sniffing_as_go() {
        assert_eq!(detect(b"\x1f\x8b\x08\x00\x00\x00"), "application/x-gzip");
        assert_eq!(detect(b"apiVersion: v1\nentries: {}\n"), "text/plain; charset=utf-8");
        assert_eq!(detect(b""), "text/plain; charset=utf-8");
        assert_eq!(detect(b"\x00\x01binary"), "application/octet-stream");
        assert_eq!(detect(b"  <html><body>"), "text/html; charset=utf-8");
        assert_eq!(detect(b"<htmlx"), "text/plain; charset=utf-8");
        assert_eq!(detect(b"<?xml version"), "text/xml; charset=utf-8");
        assert_eq!(detect(b"PK\x03\x04rest"), "application/zip");
        assert_eq!(detect(b"\xEF\xBB\xBFhi"), "text/plain; charset=utf-8");
        assert_eq!(detect(b"%PDF-1.7"), "application/pdf");
    }
}
