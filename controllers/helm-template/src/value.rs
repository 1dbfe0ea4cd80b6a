//! The values templates work on, keeping the distinctions Go's reflection makes: `nil`, `int64`
//! versus `float64` (YAML and JSON numbers decode as `float64` in Helm, template literals and
//! Sprig arithmetic give integers), maps iterated in sorted key order and shared by reference
//! (Sprig's `set` mutates a dict in place, as in Go).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// A map shared by reference, as a Go `map[string]interface{}` is.
pub type Map = Rc<RefCell<BTreeMap<String, Value>>>;

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's nil (an empty interface, a missing map entry).
    #[default]
    Nil,
    /// A `bool`.
    Bool(bool),
    /// A Go `int` (template literals, `len`, Sprig's `int`).
    Int(i64),
    /// A Go `int64` (`--set` integers, Sprig's arithmetic).
    Int64(i64),
    /// A `float64`.
    Float(f64),
    /// A `string`.
    Str(Rc<str>),
    /// A slice (`[]interface{}` or `[]string`).
    List(Rc<List>),
    /// A `map[string]interface{}`.
    Map(Map),
    /// A host object with fields and methods (`.Files`, `.Capabilities`, …).
    Object(Rc<dyn Object>),
}

/// The items of a slice, and whether it is a Go `[]string` (Sprig's `splitList`,
/// `toStrings`, `sortAlpha`) rather than `[]interface{}`.
#[derive(Clone, Default, PartialEq)]
pub struct List {
    items: Vec<Value>,
    /// A `[]string`.
    pub strings: bool,
}

impl std::ops::Deref for List {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.items
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.deep_equal(other)
    }
}

/// A host object exposed to templates, with Go-like fields and methods.
pub trait Object {
    /// The Go type name, as `%T` or error messages print it.
    fn type_name(&self) -> &str;
    /// A field or argument-less method by name, if there is one.
    fn field(&self, name: &str) -> Option<Value>;
    /// Calls the method `name` with `args`; `None` when there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// How `%v` prints the object.
    fn display(&self) -> String;
    /// The Go reflect kind (`kindOf`): a pointer unless the object is a struct value.
    fn kind(&self) -> &'static str {
        "ptr"
    }
    /// The object as `Any`, for the functions that made it to get it back.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// The entries `range` iterates over, if the object is a Go map.
    fn entries(&self) -> Option<Vec<(String, Value)>> {
        None
    }
    /// The object as plain data (for `toYaml`/`toJson`), if it has such a form.
    fn to_data(&self) -> Value {
        Value::Nil
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// A list value.
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(List { items: v, strings: false }))
    }

    /// A `[]string` value.
    pub fn str_list(v: Vec<String>) -> Value {
        Value::List(Rc::new(List { items: v.into_iter().map(Value::str).collect(), strings: true }))
    }

    /// A new map value.
    pub fn map(m: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }

    /// An empty map value.
    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Go template truth: false, 0, nil and empty strings, slices and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(_) => true,
        }
    }

    /// The integer inside, of either width.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// The value with `int64` turned into `int` (for printing and encoding, where Go treats
    /// them alike).
    pub fn normalized(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Value::Int64(i) => std::borrow::Cow::Owned(Value::Int(*i)),
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The Go type name (`%T`, `typeOf`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(l) if l.strings => "[]string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name().to_string(),
        }
    }

    /// The Go reflect kind name (`kindOf`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind(),
        }
    }

    /// A deep copy (maps are fresh, not shared).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(l) => {
                Value::List(Rc::new(List { items: l.iter().map(Value::deep_copy).collect(), strings: l.strings }))
            }
            Value::Map(m) => Value::map(m.borrow().iter().map(|(k, v)| (k.clone(), v.deep_copy())).collect()),
            other => other.clone(),
        }
    }

    /// Go's `reflect.DeepEqual` over template values.
    pub fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.strings == b.strings && a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_equal(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len() && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.deep_equal(vb))
            }
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Int64(i) => write!(f, "{i}i64"),
            Value::Float(x) => write!(f, "{x}f"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => f.debug_map().entries(m.borrow().iter()).finish(),
            Value::Object(o) => write!(f, "<{}>", o.type_name()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
