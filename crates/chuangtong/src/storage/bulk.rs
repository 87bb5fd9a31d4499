//! Multi-row inserts whose statement text does not depend on the row count.
//!
//! A claim group inserts up to 512 rows into each of four tables. Written as
//! `VALUES (…), (…)` every group size is a new statement: on PostgreSQL it is
//! parsed and planned afresh (a plan over thousands of parameters), and sqlx
//! encodes every one of those parameters. On PostgreSQL the rows therefore
//! travel as one JSON parameter and the statement reads them with
//! `json_populate_recordset(NULL::table, $1)`, which takes each column's type
//! from the table itself: one text, prepared once per connection, whatever
//! the group's size. SQLite prepares in microseconds and binds by position,
//! so it keeps the `VALUES` list.

use serde_json::{Map, Value};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use super::{Backend, Params};

/// One value of a row.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&String> for Cell {
    fn from(s: &String) -> Cell {
        Cell::Text(s.clone())
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Cell {
        Cell::Int(i)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Cell {
        s.map_or(Cell::Null, Cell::Text)
    }
}

/// Rows for `INSERT INTO {table} ({columns}) {source} …`.
pub struct Rows<'a> {
    table: &'a str,
    columns: &'a [&'a str],
    rows: Vec<Vec<Cell>>,
}

impl<'a> Rows<'a> {
    pub fn new(table: &'a str, columns: &'a [&'a str]) -> Rows<'a> {
        Rows {
            table,
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row: one cell per column, in the columns' order.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "one cell per column of {}", self.table);
        self.rows.push(row);
    }

    /// `INSERT INTO table (columns) <rows>` followed by `suffix` (`ON
    /// CONFLICT …`, `RETURNING …`); the rows are the statement's only
    /// parameters. Run it with [`Rows::bind`].
    pub fn insert_sql(&self, backend: Backend, suffix: &str) -> String {
        let columns = self.columns.join(", ");
        let source = match backend {
            Backend::Postgres => format!(
                "SELECT {columns} FROM json_populate_recordset(NULL::{}, $1::json)",
                self.table
            ),
            Backend::Sqlite => format!(
                "VALUES {}",
                Params::new(backend).rows(self.rows.len(), self.columns.len())
            ),
        };
        format!("INSERT INTO {} ({columns}) {source} {suffix}", self.table)
    }

    /// Binds the rows to `q`, built from [`Rows::insert_sql`] on the same backend.
    pub fn bind<'q>(
        self,
        backend: Backend,
        mut q: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        match backend {
            Backend::Postgres => {
                let rows: Vec<Value> = self
                    .rows
                    .into_iter()
                    .map(|row| {
                        let mut object = Map::with_capacity(row.len());
                        for (column, cell) in self.columns.iter().zip(row) {
                            let v = match cell {
                                Cell::Text(s) => Value::String(s),
                                Cell::Int(i) => Value::from(i),
                                Cell::Null => Value::Null,
                            };
                            object.insert((*column).to_string(), v);
                        }
                        Value::Object(object)
                    })
                    .collect();
                q.bind(Value::Array(rows).to_string())
            }
            Backend::Sqlite => {
                for row in self.rows {
                    for cell in row {
                        q = match cell {
                            Cell::Text(s) => q.bind(s),
                            Cell::Int(i) => q.bind(i),
                            Cell::Null => q.bind(None::<String>),
                        };
                    }
                }
                q
            }
        }
    }
}
