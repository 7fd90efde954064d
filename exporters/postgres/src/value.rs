//! Decoding of result columns of any type into metric values and label values, in one place.
//!
//! PostgreSQL returns counters as `bigint`, `numeric` or `double precision` depending on the
//! view and the server version (`EXTRACT` returns `numeric` from PostgreSQL 14 on), so every
//! collector reads its columns as [`Cell`] and converts with [`Cell::number`] or
//! [`Cell::label`]. A NULL is [`Cell::Null`]; the collector decides whether that means 0, an
//! omitted series or a skipped row, as postgres_exporter does for that column.

use std::error::Error;

use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

/// Seconds between the Unix epoch and the PostgreSQL epoch (2000-01-01 00:00:00 UTC).
const POSTGRES_EPOCH_UNIX_SECONDS: f64 = 946_684_800.0;

/// One column value of a result row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Bool(bool),
    Text(String),
    /// A `timestamp` or `timestamptz`, in seconds since the Unix epoch.
    Timestamp(f64),
    /// A type that has no numeric or text form here, such as an array; the value is its type name.
    Unsupported(String),
}

impl Cell {
    /// Returns the value as a number: booleans are 1 or 0, timestamps are Unix seconds and text
    /// is parsed as a float. Returns `None` for NULL and for values without a numeric form.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Null | Cell::Unsupported(_) => None,
            Cell::Number(value) | Cell::Timestamp(value) => Some(*value),
            Cell::Bool(value) => Some(if *value { 1.0 } else { 0.0 }),
            Cell::Text(text) => text.trim().parse().ok(),
        }
    }

    /// Returns the value as a number, or 0 for NULL, as postgres_exporter reports most counters.
    pub fn number_or_zero(&self) -> f64 {
        self.number().unwrap_or(0.0)
    }

    /// Returns the value as label text; NULL becomes `null_text`.
    pub fn label_or(&self, null_text: &str) -> String {
        match self {
            Cell::Null | Cell::Unsupported(_) => null_text.to_owned(),
            Cell::Text(text) => text.clone(),
            Cell::Bool(value) => value.to_string(),
            Cell::Number(value) | Cell::Timestamp(value) => format_number(*value),
        }
    }

    /// Returns the value as label text, with NULL as the empty string.
    pub fn label(&self) -> String {
        self.label_or("")
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
}

/// Formats a number the way Go's `strconv` does for integers, and shortest round-trip otherwise.
fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, Box<dyn Error + Sync + Send>> {
        let cell = match *ty {
            Type::BOOL => Cell::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Cell::Number(f64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Cell::Number(f64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Cell::Number(i64::from_sql(ty, raw)? as f64),
            Type::OID | Type::XID => Cell::Number(f64::from(u32::from_sql(&Type::OID, raw)?)),
            Type::FLOAT4 => Cell::Number(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Cell::Number(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Cell::Number(decode_numeric(raw)?),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                let micros = i64::from_sql(&Type::INT8, raw)?;
                Cell::Timestamp(micros as f64 / 1e6 + POSTGRES_EPOCH_UNIX_SECONDS)
            }
            Type::DATE => {
                let days = i32::from_sql(&Type::INT4, raw)?;
                Cell::Timestamp(f64::from(days) * 86400.0 + POSTGRES_EPOCH_UNIX_SECONDS)
            }
            Type::PG_LSN => Cell::Number(i64::from_sql(&Type::INT8, raw)? as u64 as f64),
            Type::CHAR => Cell::Text(String::from_utf8_lossy(raw).into_owned()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Cell::Text(String::from_utf8_lossy(raw).into_owned())
            }
            Type::INT2_ARRAY
            | Type::INT4_ARRAY
            | Type::INT8_ARRAY
            | Type::FLOAT4_ARRAY
            | Type::FLOAT8_ARRAY
            | Type::NUMERIC_ARRAY => Cell::Text(decode_number_array(ty, raw)?),
            _ => Cell::Unsupported(ty.name().to_owned()),
        };
        Ok(cell)
    }

    fn from_sql_null(_: &Type) -> Result<Cell, Box<dyn Error + Sync + Send>> {
        Ok(Cell::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes a one-dimensional numeric array into its text form, such as `{1,2.5}`, the form in
/// which histogram columns of query namespaces are read. NULL elements are left out.
fn decode_number_array(ty: &Type, raw: &[u8]) -> Result<String, Box<dyn Error + Sync + Send>> {
    let values: Vec<Option<Cell>> = Vec::from_sql(ty, raw)?;
    let text: Vec<String> = values.iter().flatten().map(|cell| cell.label()).collect();
    Ok(format!("{{{}}}", text.join(",")))
}

/// Decodes the binary form of `numeric`: a header of four 16-bit fields (digit count, weight of
/// the first digit, sign, display scale) and base-10000 digits. NaN and infinities map to the
/// float values of the same name.
fn decode_numeric(raw: &[u8]) -> Result<f64, Box<dyn Error + Sync + Send>> {
    let field = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "invalid numeric value: truncated".into())
    };
    let digit_count = usize::from(field(0)?);
    let weight = field(1)? as i16;
    let sign = field(2)?;
    match sign {
        0xC000 => return Ok(f64::NAN),
        0xD000 => return Ok(f64::INFINITY),
        0xF000 => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let mut value = 0.0;
    for i in 0..digit_count {
        let digit = f64::from(field(4 + i)?);
        value += digit * 10000f64.powi(i32::from(weight) - i as i32);
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

/// Reads column `index` of `row` as a [`Cell`]; a column that is missing reads as NULL.
pub fn cell(row: &Row, index: usize) -> Cell {
    row.try_get::<_, Cell>(index).unwrap_or(Cell::Null)
}

/// Reads all columns of `row`.
pub fn cells(row: &Row) -> Vec<Cell> {
    (0..row.len()).map(|i| cell(row, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(digits: &[u16], weight: i16, sign: u16) -> Vec<u8> {
        let mut raw = Vec::new();
        for field in [digits.len() as u16, weight as u16, sign, 0] {
            raw.extend_from_slice(&field.to_be_bytes());
        }
        for digit in digits {
            raw.extend_from_slice(&digit.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numeric_decodes_integer_and_fraction() {
        let value = decode_numeric(&numeric(&[12, 3456, 5000], 1, 0)).unwrap();
        assert!((value - 123456.5).abs() < 1e-9, "{value}");
    }

    #[test]
    fn numeric_decodes_negative_and_nan() {
        assert_eq!(decode_numeric(&numeric(&[7], 0, 0x4000)).unwrap(), -7.0);
        assert!(decode_numeric(&numeric(&[], 0, 0xC000)).unwrap().is_nan());
    }

    #[test]
    fn numeric_rejects_truncated_input() {
        assert!(decode_numeric(&[0, 1]).is_err());
    }

    #[test]
    fn cell_numbers_and_labels() {
        assert_eq!(Cell::Null.number(), None);
        assert_eq!(Cell::Null.number_or_zero(), 0.0);
        assert_eq!(Cell::Bool(true).number(), Some(1.0));
        assert_eq!(Cell::Text("2.5".into()).number(), Some(2.5));
        assert_eq!(Cell::Text("on".into()).number(), None);
        assert_eq!(Cell::Number(42.0).label(), "42");
        assert_eq!(Cell::Number(0.25).label(), "0.25");
        assert_eq!(Cell::Null.label_or("unknown"), "unknown");
    }
}
