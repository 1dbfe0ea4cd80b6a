//! Sprig's date functions over a Go-like `time.Time` (UTC, fixed offsets and named zones from
//! the tz database compiled in by `chrono-tz`; the machine's local zone is taken to be UTC), with Go's reference-time layouts (`2006-01-02 15:04:05`).

use std::collections::HashMap;
use std::rc::Rc;

use crate::funcs::{Func, FuncError, arg_str, strval, want};
use crate::value::{Object, Value};

/// A point in time with a fixed zone offset.
#[derive(Debug, Clone)]
pub struct Time {
    unix: i64,
    nsec: u32,
    offset: i32,
    zone: String,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Time {
    fn now() -> Time {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Time { unix: d.as_secs() as i64, nsec: d.subsec_nanos(), offset: 0, zone: "UTC".into() }
    }

    fn zero() -> Time {
        Time { unix: -62_135_596_800, nsec: 0, offset: 0, zone: "UTC".into() }
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        let local = self.unix + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, mo, d) = civil(days);
        let (h, mi, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        let wd = (days + 4).rem_euclid(7) as usize;
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let tokens: &[(&str, &dyn Fn() -> String)] = &[
                ("January", &|| MONTHS[mo as usize - 1].into()),
                ("Jan", &|| MONTHS[mo as usize - 1][..3].into()),
                ("Monday", &|| DAYS[wd].into()),
                ("Mon", &|| DAYS[wd][..3].into()),
                ("MST", &|| self.zone.clone()),
                ("2006", &|| format!("{y:04}")),
                ("-07:00", &|| offset(self.offset, true, false)),
                ("-0700", &|| offset(self.offset, false, false)),
                ("-07", &|| offset(self.offset, false, false)[..3].into()),
                ("Z07:00", &|| offset(self.offset, true, true)),
                ("Z0700", &|| offset(self.offset, false, true)),
                ("01", &|| format!("{mo:02}")),
                ("02", &|| format!("{d:02}")),
                ("_2", &|| format!("{d:>2}")),
                ("06", &|| format!("{:02}", y.rem_euclid(100))),
                ("15", &|| format!("{h:02}")),
                ("03", &|| format!("{:02}", if h % 12 == 0 { 12 } else { h % 12 })),
                ("04", &|| format!("{mi:02}")),
                ("05", &|| format!("{s:02}")),
                ("PM", &|| if h >= 12 { "PM".into() } else { "AM".into() }),
                ("pm", &|| if h >= 12 { "pm".into() } else { "am".into() }),
                (".000000000", &|| format!(".{:09}", self.nsec)),
                (".000000", &|| format!(".{:06}", self.nsec / 1000)),
                (".000", &|| format!(".{:03}", self.nsec / 1_000_000)),
                (".999999999", &|| frac(self.nsec, 9)),
                (".999999", &|| frac(self.nsec / 1000, 6)),
                (".999", &|| frac(self.nsec / 1_000_000, 3)),
                ("1", &|| mo.to_string()),
                ("2", &|| d.to_string()),
                ("3", &|| (if h % 12 == 0 { 12 } else { h % 12 }).to_string()),
                ("4", &|| mi.to_string()),
                ("5", &|| s.to_string()),
            ];
            if let Some((tok, f)) = tokens.iter().find(|(t, _)| rest.starts_with(*t)) {
                out.push_str(&f());
                rest = &rest[tok.len()..];
            } else {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }

    /// Parses `value` with a Go layout; the error is Go's `cannot parse "REST" as "ELEM"` pair.
    pub fn parse_go(layout: &str, value: &str) -> Result<Time, (String, String)> {
        let mut at = (value.to_string(), String::new());
        Time::parse_inner(layout, value, &mut at).ok_or(at)
    }

    /// Parses `value` with a Go layout (numeric fields, month names, `Z07:00` zones).
    pub fn parse(layout: &str, value: &str) -> Option<Time> {
        Time::parse_go(layout, value).ok()
    }

    fn parse_inner(layout: &str, value: &str, at: &mut (String, String)) -> Option<Time> {
        let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut off, mut nsec) =
            (1i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i32, 0u32);
        let mut pm: Option<bool> = None;
        let (mut l, mut v) = (layout, value);
        let num = |v: &mut &str, max: usize| -> Option<i64> {
            let n = v.chars().take(max).take_while(char::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let r = v[..n].parse().ok();
            *v = &v[n..];
            r
        };
        while !l.is_empty() {
            *at = (v.to_string(), layout_elem(l));
            let fixed = |tok: &str| l.starts_with(tok);
            if fixed("2006") {
                y = num(&mut v, 4)?;
                l = &l[4..];
            } else if fixed("January") || fixed("Jan") {
                let long = fixed("January");
                let i = MONTHS.iter().position(|m| if long { v.starts_with(m) } else { v.starts_with(&m[..3]) })?;
                v = &v[if long { MONTHS[i].len() } else { 3 }..];
                mo = i as u32 + 1;
                l = &l[if long { 7 } else { 3 }..];
            } else if fixed("Monday") || fixed("Mon") {
                let long = fixed("Monday");
                let i = DAYS.iter().position(|m| if long { v.starts_with(m) } else { v.starts_with(&m[..3]) })?;
                v = &v[if long { DAYS[i].len() } else { 3 }..];
                l = &l[if long { 6 } else { 3 }..];
            } else if fixed("Z07:00") || fixed("-07:00") || fixed("-0700") || fixed("Z0700") {
                let n = if fixed("Z07:00") || fixed("-07:00") { 6 } else { 5 };
                if l.starts_with('Z') && v.starts_with('Z') {
                    v = &v[1..];
                } else {
                    let sign = if v.starts_with('-') { -1 } else { 1 };
                    v = v.get(1..)?;
                    let hh = num(&mut v, 2)?;
                    v = v.strip_prefix(':').unwrap_or(v);
                    let mm = num(&mut v, 2)?;
                    off = sign * (hh * 3600 + mm * 60) as i32;
                }
                l = &l[n..];
            } else if fixed("MST") {
                let n = v.chars().take_while(char::is_ascii_uppercase).count();
                v = &v[n..];
                l = &l[3..];
            } else if fixed("PM") || fixed("pm") {
                pm = Some(v.get(..2)?.eq_ignore_ascii_case("PM"));
                v = &v[2..];
                l = &l[2..];
            } else if fixed(".000") || fixed(".999") {
                let digits = l[1..].chars().take_while(|c| *c == '0' || *c == '9').count();
                if let Some(rest) = v.strip_prefix('.') {
                    let n = rest.chars().take_while(char::is_ascii_digit).count();
                    let frac = &rest[..n];
                    nsec = format!("{frac:0<9}")[..9].parse().ok()?;
                    v = &rest[n..];
                }
                l = &l[1 + digits..];
            } else {
                let two = [("01", 0), ("02", 1), ("15", 2), ("03", 2), ("04", 3), ("05", 4), ("06", 5), ("_2", 1)];
                let one = [("1", 0), ("2", 1), ("3", 2), ("4", 3), ("5", 4)];
                let found = two
                    .iter()
                    .find(|(t, _)| fixed(t))
                    .map(|(t, f)| (t.len(), *f))
                    .or_else(|| one.iter().find(|(t, _)| fixed(t)).map(|(t, f)| (t.len(), *f)));
                match found {
                    Some((len, field)) => {
                        if l.starts_with("_2") {
                            v = v.trim_start_matches(' ');
                        }
                        let n = num(&mut v, 2)?;
                        match field {
                            0 => mo = n as u32,
                            1 => d = n as u32,
                            2 => h = n,
                            3 => mi = n,
                            4 => s = n,
                            _ => y = if n >= 69 { 1900 + n } else { 2000 + n },
                        }
                        l = &l[len..];
                    }
                    None => {
                        let c = l.chars().next()?;
                        v = v.strip_prefix(c)?;
                        l = &l[c.len_utf8()..];
                    }
                }
            }
        }
        if !v.is_empty() {
            *at = (v.to_string(), String::new());
            return None;
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        if let Some(p) = pm {
            h = (h % 12) + if p { 12 } else { 0 };
        }
        let unix = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - i64::from(off);
        let zone = if off == 0 { "UTC".to_string() } else { String::new() };
        Some(Time { unix, nsec, offset: off, zone })
    }
}

const ELEMS: &[&str] = &[
    "January", "Jan", "Monday", "Mon", "MST", "2006", "-07:00", "-0700", "-07", "Z07:00", "Z0700", "01", "02", "_2",
    "06", "15", "03", "04", "05", "PM", "pm", ".000", ".999", "1", "2", "3", "4", "5",
];

/// The layout element at the start of `l`: a reference-time token or the literal text before
/// the next one.
fn layout_elem(l: &str) -> String {
    if let Some(e) = ELEMS.iter().find(|e| l.starts_with(**e)) {
        return (*e).to_string();
    }
    let mut out = String::new();
    for (i, c) in l.char_indices() {
        if i > 0 && ELEMS.iter().any(|e| l[i..].starts_with(e)) {
            break;
        }
        out.push(c);
    }
    out
}

fn frac(n: u32, digits: usize) -> String {
    let s = format!("{n:0digits$}");
    let t = s.trim_end_matches('0');
    if t.is_empty() { String::new() } else { format!(".{t}") }
}

fn offset(off: i32, colon: bool, z: bool) -> String {
    if off == 0 && z {
        return "Z".into();
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60)
    }
}

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }
    fn kind(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Unix" => Value::Int(self.unix),
            "Year" => Value::Int(self.format("2006").parse().unwrap_or(0)),
            "YearDay" => Value::Int(0),
            _ => return None,
        })
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match (name, args) {
            ("Format", [Value::Str(l)]) => Some(Ok(Value::str(self.format(l)))),
            _ => None,
        }
    }
    fn display(&self) -> String {
        let zone = if self.zone.is_empty() { offset(self.offset, false, false) } else { self.zone.clone() };
        format!("{} {zone}", self.format("2006-01-02 15:04:05.999999999 -0700"))
    }
    fn to_data(&self) -> Value {
        Value::str(self.format("2006-01-02T15:04:05.999999999Z07:00"))
    }
}

fn in_local(mut t: Time) -> Time {
    t.offset = 0;
    t.zone = "UTC".into();
    t
}

/// `t.In(time.LoadLocation(zone))`, UTC when the zone is unknown (as Sprig falls back).
fn in_zone(t: Time, zone: &str) -> Time {
    use chrono::{Offset as _, TimeZone as _};
    use chrono_tz::OffsetName as _;
    let tz: chrono_tz::Tz = match zone {
        "" | "UTC" | "Local" => return in_local(t),
        name => match name.parse() {
            Ok(tz) => tz,
            Err(_) => return in_local(t),
        },
    };
    let Some(utc) = chrono::DateTime::from_timestamp(t.unix, 0) else { return in_local(t) };
    let off = tz.offset_from_utc_datetime(&utc.naive_utc());
    let secs = off.fix().local_minus_utc();
    // Zones whose tzdata abbreviation is numeric (`%z`): `-03`, `+0530`.
    let abbr = off.abbreviation().map(str::to_string).unwrap_or_else(|| {
        let (sign, a) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
        let (h, m) = (a / 3600, (a % 3600) / 60);
        if m == 0 { format!("{sign}{h:02}") } else { format!("{sign}{h:02}{m:02}") }
    });
    Time { offset: secs, zone: abbr, ..t }
}

/// Sprig's `durationRound`: the largest whole unit of a duration (`2h`, `3d`, `1y`).
fn duration_round(v: &Value) -> String {
    let ns: i128 = match v {
        Value::Str(s) => parse_duration(s).map_or(0, i128::from),
        Value::Int64(i) => i128::from(*i),
        Value::Object(o) if o.type_name() == "time.Time" => {
            let t = time_arg(v);
            let now = Time::now();
            (i128::from(now.unix) - i128::from(t.unix)) * 1_000_000_000 + i128::from(now.nsec) - i128::from(t.nsec)
        }
        _ => 0,
    };
    let u = ns.unsigned_abs();
    const SEC: u128 = 1_000_000_000;
    let units: [(u128, &str); 6] = [
        (SEC * 3600 * 24 * 365, "y"),
        (SEC * 3600 * 24 * 30, "mo"),
        (SEC * 3600 * 24, "d"),
        (SEC * 3600, "h"),
        (SEC * 60, "m"),
        (SEC, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

fn time_arg(v: &Value) -> Time {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            Time::parse("2006-01-02T15:04:05.999999999Z07:00", &strval(&o.to_data())).unwrap_or_else(Time::now)
        }
        Value::Int(i) | Value::Int64(i) => Time { unix: *i, nsec: 0, offset: 0, zone: "UTC".into() },
        _ => Time::now(),
    }
}

/// Go's `time.Duration.String()` for whole seconds.
fn duration_string(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let neg = secs < 0;
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, (a % 3600) / 60, a % 60);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

/// Go's `time.ParseDuration` (h, m, s, ms units), in nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.trim_start_matches('+')),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.chars().take_while(|c| c.is_ascii_alphabetic() || *c == 'µ').count();
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    Some(if neg { -total as i64 } else { total as i64 })
}

/// Go's `time.Parse(layout, value)` error message, if `value` does not parse.
pub(crate) fn go_parse_error(layout: &str, value: &str) -> Option<String> {
    let q = crate::template::format::go_quote;
    match Time::parse_go(layout, value) {
        Ok(_) => None,
        Err((rest, elem)) if elem.is_empty() => Some(format!("parsing time {}: extra text: {}", q(value), q(&rest))),
        Err((rest, elem)) => {
            Some(format!("parsing time {} as {}: cannot parse {} as {}", q(value), q(layout), q(&rest), q(&elem)))
        }
    }
}

fn obj(t: Time) -> Value {
    Value::Object(Rc::new(t))
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("now", |_, _| Ok(obj(Time::now())));
    m.insert("date", |_, a| {
        want(a, 2, "date")?;
        Ok(Value::str(in_local(time_arg(&a[1])).format(&arg_str(a, 0)?)))
    });
    m.insert("dateInZone", |_, a| {
        want(a, 3, "dateInZone")?;
        Ok(Value::str(in_zone(time_arg(&a[1]), &strval(&a[2])).format(&arg_str(a, 0)?)))
    });
    m.insert("durationRound", |_, a| {
        want(a, 1, "durationRound")?;
        Ok(Value::str(duration_round(&a[0])))
    });
    m.insert("htmlDate", |_, a| {
        want(a, 1, "htmlDate")?;
        Ok(Value::str(in_local(time_arg(&a[0])).format("2006-01-02")))
    });
    m.insert("htmlDateInZone", |_, a| {
        want(a, 2, "htmlDateInZone")?;
        Ok(Value::str(in_zone(time_arg(&a[0]), &strval(&a[1])).format("2006-01-02")))
    });
    m.insert("unixEpoch", |_, a| {
        want(a, 1, "unixEpoch")?;
        Ok(Value::str(time_arg(&a[0]).unix.to_string()))
    });
    m.insert("toDate", |_, a| {
        want(a, 2, "toDate")?;
        Ok(obj(Time::parse(&arg_str(a, 0)?, &arg_str(a, 1)?).unwrap_or_else(Time::zero)))
    });
    m.insert("mustToDate", |_, a| {
        want(a, 2, "mustToDate")?;
        let (l, v) = (arg_str(a, 0)?, arg_str(a, 1)?);
        let q = crate::template::format::go_quote;
        match go_parse_error(&l, &v) {
            Some(e) => Err(FuncError::Plain(e)),
            None => Time::parse_go(&l, &v).map(obj).map_err(|_| FuncError::Plain(format!("parsing time {}", q(&v)))),
        }
    });
    m.insert("dateModify", |_, a| {
        want(a, 2, "dateModify")?;
        let mut t = time_arg(&a[1]);
        if let Some(ns) = parse_duration(&arg_str(a, 0)?) {
            let total = i128::from(t.unix) * 1_000_000_000 + i128::from(t.nsec) + i128::from(ns);
            t.unix = total.div_euclid(1_000_000_000) as i64;
            t.nsec = total.rem_euclid(1_000_000_000) as u32;
        }
        Ok(obj(t))
    });
    m.insert("duration", |_, a| {
        want(a, 1, "duration")?;
        let secs = match &a[0] {
            Value::Int64(i) => *i,
            Value::Str(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::str(duration_string(secs)))
    });
    m.insert("ago", |_, a| {
        want(a, 1, "ago")?;
        Ok(Value::str(duration_string(Time::now().unix - time_arg(&a[0]).unix)))
    });
}
