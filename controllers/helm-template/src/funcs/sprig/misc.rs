//! Sprig's defaults, type, math, encoding, crypto and regex functions.

use std::collections::HashMap;

use base64::Engine as _;
use sha2::Digest as _;

use crate::funcs::{FResult, Func, FuncError, arg_str, strval, to_float64, to_int64, want, want_at_least};
use crate::value::Value;

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    !v.truthy()
}

fn regex(p: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(p).map_err(|e| FuncError::Plain(format!("error parsing regexp: {e}")))
}

/// Go's regexp template expansion (`$1`, `${name}`) mapped onto the regex crate's syntax.
fn go_expand(repl: &str) -> String {
    repl.to_string()
}

fn arith(a: &[Value], name: &str, f: fn(i64, i64) -> Option<i64>) -> FResult {
    want_at_least(a, 1, name)?;
    let mut acc = to_int64(&a[0]);
    for v in &a[1..] {
        acc = f(acc, to_int64(v)).ok_or_else(|| FuncError::Plain("runtime error: integer divide by zero".into()))?;
    }
    Ok(Value::Int64(acc))
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("default", |_, a| {
        want_at_least(a, 1, "default")?;
        if a.len() < 2 || empty(&a[1]) {
            return Ok(a[0].clone());
        }
        Ok(a[1].clone())
    });
    m.insert("empty", |_, a| {
        want(a, 1, "empty")?;
        Ok(Value::Bool(empty(&a[0])))
    });
    m.insert("coalesce", |_, a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or_default()));
    m.insert("all", |_, a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    m.insert("any", |_, a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    m.insert("ternary", |_, a| {
        want(a, 3, "ternary")?;
        match &a[2] {
            Value::Bool(true) => Ok(a[0].clone()),
            Value::Bool(false) => Ok(a[1].clone()),
            _ => Err(FuncError::Type { index: 2, expected: "bool", func: String::new() }),
        }
    });
    m.insert("kindOf", |_, a| {
        want(a, 1, "kindOf")?;
        Ok(Value::str(a[0].kind_name()))
    });
    m.insert("typeOf", |_, a| {
        want(a, 1, "typeOf")?;
        Ok(Value::str(a[0].type_name()))
    });
    m.insert("kindIs", |_, a| {
        want(a, 2, "kindIs")?;
        Ok(Value::Bool(arg_str(a, 0)? == a[1].kind_name()))
    });
    m.insert("typeIs", |_, a| {
        want(a, 2, "typeIs")?;
        Ok(Value::Bool(arg_str(a, 0)? == a[1].type_name()))
    });
    m.insert("deepEqual", |_, a| {
        want(a, 2, "deepEqual")?;
        Ok(Value::Bool(a[0].deep_equal(&a[1])))
    });
    m.insert("add", |_, a| arith(a, "add", i64::checked_add));
    m.insert("add1", |_, a| {
        want(a, 1, "add1")?;
        Ok(Value::Int64(to_int64(&a[0]) + 1))
    });
    m.insert("sub", |_, a| arith(a, "sub", i64::checked_sub));
    m.insert("mul", |_, a| arith(a, "mul", i64::checked_mul));
    m.insert("div", |_, a| arith(a, "div", i64::checked_div));
    m.insert("mod", |_, a| arith(a, "mod", i64::checked_rem));
    m.insert("max", |_, a| arith(a, "max", |x, y| Some(x.max(y))));
    m.insert("min", |_, a| arith(a, "min", |x, y| Some(x.min(y))));
    m.insert("addf", |_, a| Ok(Value::Float(a.iter().map(to_float64).sum())));
    m.insert("floor", |_, a| {
        want(a, 1, "floor")?;
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    m.insert("ceil", |_, a| {
        want(a, 1, "ceil")?;
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    m.insert("round", |_, a| {
        want_at_least(a, 2, "round")?;
        let p = 10f64.powi(to_int64(&a[1]) as i32);
        let x = to_float64(&a[0]) * p;
        let r = if x >= 0.0 { (x + 0.5).floor() } else { (x - 0.5).ceil() };
        Ok(Value::Float(r / p))
    });
    m.insert("int", |_, a| {
        want(a, 1, "int")?;
        Ok(Value::Int(to_int64(&a[0])))
    });
    m.insert("int64", |_, a| {
        want(a, 1, "int64")?;
        Ok(Value::Int64(to_int64(&a[0])))
    });
    m.insert("float64", |_, a| {
        want(a, 1, "float64")?;
        Ok(Value::Float(to_float64(&a[0])))
    });
    m.insert("atoi", |_, a| {
        want(a, 1, "atoi")?;
        Ok(Value::Int(arg_str(a, 0)?.parse().unwrap_or(0)))
    });
    m.insert("b64enc", |_, a| {
        want(a, 1, "b64enc")?;
        Ok(Value::str(base64::engine::general_purpose::STANDARD.encode(strval(&a[0]))))
    });
    m.insert("b64dec", |_, a| {
        want(a, 1, "b64dec")?;
        Ok(Value::str(match base64::engine::general_purpose::STANDARD.decode(strval(&a[0])) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => e.to_string(),
        }))
    });
    m.insert("sha256sum", |_, a| {
        want(a, 1, "sha256sum")?;
        Ok(Value::str(hex(&sha2::Sha256::digest(arg_str(a, 0)?.as_bytes()))))
    });
    m.insert("sha1sum", |_, a| {
        want(a, 1, "sha1sum")?;
        Ok(Value::str(hex(&sha1::Sha1::digest(arg_str(a, 0)?.as_bytes()))))
    });
    m.insert("adler32sum", |_, a| {
        want(a, 1, "adler32sum")?;
        Ok(Value::str(adler32(arg_str(a, 0)?.as_bytes()).to_string()))
    });
    m.insert("regexMatch", |_, a| {
        want(a, 2, "regexMatch")?;
        Ok(Value::Bool(regex(&arg_str(a, 0)?)?.is_match(&arg_str(a, 1)?)))
    });
    m.insert("regexFind", |_, a| {
        want(a, 2, "regexFind")?;
        let s = arg_str(a, 1)?;
        Ok(Value::str(regex(&arg_str(a, 0)?)?.find(&s).map(|m| m.as_str().to_string()).unwrap_or_default()))
    });
    m.insert("regexFindAll", |_, a| {
        want(a, 3, "regexFindAll")?;
        let s = arg_str(a, 1)?;
        let n = to_int64(&a[2]);
        let re = regex(&arg_str(a, 0)?)?;
        let it = re.find_iter(&s).map(|m| Value::str(m.as_str()));
        Ok(Value::list(if n < 0 { it.collect() } else { it.take(n as usize).collect() }))
    });
    m.insert("regexReplaceAll", |_, a| {
        want(a, 3, "regexReplaceAll")?;
        let s = arg_str(a, 1)?;
        let repl = go_expand(&arg_str(a, 2)?);
        Ok(Value::str(regex(&arg_str(a, 0)?)?.replace_all(&s, repl.as_str()).into_owned()))
    });
    m.insert("regexReplaceAllLiteral", |_, a| {
        want(a, 3, "regexReplaceAllLiteral")?;
        let s = arg_str(a, 1)?;
        let repl = arg_str(a, 2)?;
        Ok(Value::str(regex(&arg_str(a, 0)?)?.replace_all(&s, regex::NoExpand(&repl)).into_owned()))
    });
    m.insert("regexSplit", |_, a| {
        want(a, 3, "regexSplit")?;
        let s = arg_str(a, 1)?;
        let n = to_int64(&a[2]);
        let re = regex(&arg_str(a, 0)?)?;
        let parts: Vec<Value> = if n < 0 {
            re.split(&s).map(Value::str).collect()
        } else {
            re.splitn(&s, n as usize).map(Value::str).collect()
        };
        Ok(Value::list(parts))
    });
    m.insert("regexQuoteMeta", |_, a| {
        want(a, 1, "regexQuoteMeta")?;
        Ok(Value::str(regex::escape(&arg_str(a, 0)?)))
    });
    m.insert("fail", |_, a| {
        want(a, 1, "fail")?;
        Err(FuncError::Plain(arg_str(a, 0)?))
    });
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}
