//! The two databases behind one small interface: SQL text with `$n`
//! parameters, values that are text, 64-bit integers, bytes or NULL, rows of such
//! values. The store's SQL is written once against it; SQLite (rusqlite) and
//! PostgreSQL (the `postgres` client) each implement it for a connection and a
//! transaction.

use postgres::types::{ToSql, Type};

/// A parameter or a column value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Null,
    Text(String),
    Int(i64),
    /// `BYTEA` on PostgreSQL, a BLOB on SQLite.
    Bytes(Vec<u8>),
}

/// Anything that can be a parameter.
pub(crate) trait ToVal {
    fn to_val(&self) -> Val;
}
impl ToVal for str {
    fn to_val(&self) -> Val {
        Val::Text(self.to_string())
    }
}
impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
}
impl ToVal for i64 {
    fn to_val(&self) -> Val {
        Val::Int(*self)
    }
}
impl ToVal for [u8] {
    fn to_val(&self) -> Val {
        Val::Bytes(self.to_vec())
    }
}
impl ToVal for Val {
    fn to_val(&self) -> Val {
        self.clone()
    }
}
impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::Null, ToVal::to_val)
    }
}
impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}

/// `vals![a, b, …]`: parameters, each taken by reference.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::sql::ToVal::to_val(&$v)),*] };
}
pub(crate) use vals;

/// A row of values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Row(pub Vec<Val>);

impl Row {
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.0.get(i) {
            Some(Val::Text(s)) => Ok(s.clone()),
            Some(Val::Int(v)) => Ok(v.to_string()),
            other => Err(DbError::Other(format!("column {i}: text expected, found {other:?}"))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Val::Text(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// [`Row::text`], moving the value out of the row (left empty): a row
    /// read once into a record is not copied column by column.
    pub fn take_text(&mut self, i: usize) -> Result<String, DbError> {
        match self.0.get_mut(i) {
            Some(Val::Text(s)) => Ok(std::mem::take(s)),
            Some(Val::Int(v)) => Ok(v.to_string()),
            other => Err(DbError::Other(format!("column {i}: text expected, found {other:?}"))),
        }
    }

    /// [`Row::opt_text`], moving the value out of the row.
    pub fn take_opt_text(&mut self, i: usize) -> Option<String> {
        match self.0.get_mut(i) {
            Some(Val::Text(s)) => Some(std::mem::take(s)),
            _ => None,
        }
    }

    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.0.get(i) {
            Some(Val::Bytes(b)) => Ok(b.clone()),
            other => Err(DbError::Other(format!("column {i}: bytes expected, found {other:?}"))),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(*v),
            other => Err(DbError::Other(format!("column {i}: integer expected, found {other:?}"))),
        }
    }
}

/// What went wrong in the database.
#[derive(Debug)]
pub(crate) enum DbError {
    /// The file is not an SQLite database.
    NotADatabase,
    /// A key already exists.
    Constraint(String),
    Other(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::NotADatabase => f.write_str("the file is not an SQLite database"),
            DbError::Constraint(s) | DbError::Other(s) => f.write_str(s),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                DbError::NotADatabase
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                DbError::Constraint(e.to_string())
            }
            _ => DbError::Other(e.to_string()),
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        match e.code() {
            Some(c) if *c == postgres::error::SqlState::UNIQUE_VIOLATION => DbError::Constraint(e.to_string()),
            _ => DbError::Other(match e.as_db_error() {
                Some(d) => format!("{}: {}", d.severity(), d.message()),
                None => e.to_string(),
            }),
        }
    }
}

/// SQL against one connection or transaction.
pub(crate) trait Sql {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError>;
    /// Rows of `columns` values one INSERT should carry: one on SQLite (a
    /// prepared statement run again is cheapest there; a statement of many
    /// rows measured slower), many on PostgreSQL (each statement is a round
    /// trip to the server), inside its 65,535 parameters.
    fn rows_per_insert(&self, columns: usize) -> usize {
        let _ = columns;
        1
    }
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError>;

    /// Executes `sql` once for each `width` values of `args`, in order.
    fn exec_each(&mut self, sql: &str, args: &[Val], width: usize) -> Result<(), DbError> {
        for a in args.chunks(width.max(1)) {
            self.exec(sql, a)?;
        }
        Ok(())
    }

    fn one(&mut self, sql: &str, args: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }

    fn count(&mut self, sql: &str, args: &[Val]) -> Result<i64, DbError> {
        self.one(sql, args)?.map_or(Ok(0), |r| r.int(0))
    }
}

/// A transaction: SQL, then commit (dropping it rolls back).
pub(crate) trait Tx: Sql {
    fn commit(self: Box<Self>) -> Result<(), DbError>;
}

// --- SQLite ---

/// A parameter as SQLite reads it, borrowing text and bytes (no copy per value).
impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn lite_rows(c: &rusqlite::Connection, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
    let mut st = c.prepare_cached(sql)?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            v.push(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Val::Null,
                rusqlite::types::ValueRef::Integer(x) => Val::Int(x),
                rusqlite::types::ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                rusqlite::types::ValueRef::Real(x) => Val::Text(x.to_string()),
                rusqlite::types::ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
            });
        }
        out.push(Row(v));
    }
    Ok(out)
}

fn lite_exec(c: &rusqlite::Connection, sql: &str, args: &[Val]) -> Result<u64, DbError> {
    let mut st = c.prepare_cached(sql)?;
    Ok(st.execute(rusqlite::params_from_iter(args.iter()))? as u64)
}

/// [`Sql::exec_each`] with the statement looked up once, not per row.
fn lite_exec_each(c: &rusqlite::Connection, sql: &str, args: &[Val], width: usize) -> Result<(), DbError> {
    let mut st = c.prepare_cached(sql)?;
    for a in args.chunks(width.max(1)) {
        st.execute(rusqlite::params_from_iter(a.iter()))?;
    }
    Ok(())
}

impl Sql for rusqlite::Connection {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        lite_exec(self, sql, args)
    }
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
        lite_rows(self, sql, args)
    }
}

// A transaction is its connection (`Deref`) until it commits.
impl Sql for rusqlite::Transaction<'_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        lite_exec(self, sql, args)
    }
    fn exec_each(&mut self, sql: &str, args: &[Val], width: usize) -> Result<(), DbError> {
        lite_exec_each(self, sql, args, width)
    }
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
        lite_rows(self, sql, args)
    }
}

impl Tx for rusqlite::Transaction<'_> {
    fn commit(self: Box<Self>) -> Result<(), DbError> {
        Ok((*self).commit()?)
    }
}

// --- PostgreSQL ---

/// Parameters typed as the statement declares them (a NULL must have a type).
fn pg_params(types: &[Type], args: &[Val]) -> Result<Vec<Box<dyn ToSql + Sync>>, DbError> {
    if types.len() != args.len() {
        return Err(DbError::Other(format!("{} parameters for {} placeholders", args.len(), types.len())));
    }
    types
        .iter()
        .zip(args)
        .map(|(t, v)| -> Result<Box<dyn ToSql + Sync>, DbError> {
            Ok(match (t, v) {
                (&Type::INT8, Val::Int(i)) => Box::new(*i),
                (&Type::INT8, Val::Null) => Box::new(None::<i64>),
                (&Type::INT4, Val::Int(i)) => Box::new(i32::try_from(*i).map_err(|e| DbError::Other(e.to_string()))?),
                (&Type::INT4, Val::Null) => Box::new(None::<i32>),
                (&Type::BYTEA, Val::Bytes(b)) => Box::new(b.clone()),
                (&Type::BYTEA, Val::Null) => Box::new(None::<Vec<u8>>),
                (_, Val::Bytes(_)) => return Err(DbError::Other(format!("bytes for a parameter of type {t}"))),
                (_, Val::Text(s)) => Box::new(s.clone()),
                (_, Val::Int(i)) => Box::new(i.to_string()),
                (_, Val::Null) => Box::new(None::<String>),
            })
        })
        .collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    let mut v = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        v.push(match *c.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map_or(Val::Null, |x| Val::Int(x.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map_or(Val::Null, |x| Val::Int(x.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map_or(Val::Null, |x| Val::Int(x.into())),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Bytes),
            _ => r.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text),
        });
    }
    Ok(Row(v))
}

fn pg_exec<C: postgres::GenericClient>(c: &mut C, sql: &str, args: &[Val]) -> Result<u64, DbError> {
    let st = c.prepare(sql)?;
    pg_exec_prepared(c, &st, args)
}

fn pg_exec_prepared<C: postgres::GenericClient>(
    c: &mut C,
    st: &postgres::Statement,
    args: &[Val],
) -> Result<u64, DbError> {
    let p = pg_params(st.params(), args)?;
    let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
    Ok(c.execute(st, &refs)?)
}

fn pg_query<C: postgres::GenericClient>(c: &mut C, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
    let st = c.prepare(sql)?;
    let p = pg_params(st.params(), args)?;
    let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
    c.query(&st, &refs)?.iter().map(pg_row).collect()
}

impl Sql for postgres::Client {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        pg_exec(self, sql, args)
    }
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
        pg_query(self, sql, args)
    }
}

/// A PostgreSQL transaction that prepares each statement once: a run writes
/// a row per bank entry, exception and event with the same few statements,
/// and preparing one is a round trip to the server (what SQLite's
/// `prepare_cached` gives on the other backend).
pub(crate) struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

impl<'a> PgTx<'a> {
    pub(crate) fn new(tx: postgres::Transaction<'a>) -> PgTx<'a> {
        PgTx { tx, prepared: std::collections::HashMap::new() }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(sql)?;
        self.prepared.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl Sql for PgTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        let st = self.statement(sql)?;
        pg_exec_prepared(&mut self.tx, &st, args)
    }
    fn rows_per_insert(&self, columns: usize) -> usize {
        (30_000 / columns.max(1)).clamp(1, 1_000)
    }
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Row>, DbError> {
        pg_query(&mut self.tx, sql, args)
    }
}

impl Tx for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), DbError> {
        Ok(self.tx.commit()?)
    }
}
