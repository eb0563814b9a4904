//! A value bound to a D1 statement. The core builds statements and their arguments (so column lists
//! and argument lists are checked together, natively); the platform only converts these to JS.

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    /// Token counts and durations: D1 numbers are doubles, exact up to 2^53, far beyond any count.
    pub fn count(v: u64) -> SqlValue {
        SqlValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }

    pub fn text(v: &str) -> SqlValue {
        SqlValue::Text(v.to_string())
    }

    pub fn opt_text(v: Option<&str>) -> SqlValue {
        v.map_or(SqlValue::Null, SqlValue::text)
    }

    /// The value inside a JSON array that SQLite's `->>` reads back as the same value (a number
    /// that is not finite has no JSON form: NULL).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SqlValue::Null => serde_json::Value::Null,
            SqlValue::Int(i) => (*i).into(),
            SqlValue::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, Into::into),
            SqlValue::Text(t) => t.as_str().into(),
        }
    }
}

/// `?1, ?2, …, ?n`.
pub fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}
