//! The demo's data: an in-memory SQLite database with users, orders and products.

use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};

/// The database behind the demo API.
pub struct Store {
    db: Mutex<Connection>,
}

/// sha256 hex, the demo's (weak, unsalted) password hash: exactly what should never leave an API.
pub fn weak_hash(password: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, password.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// A fresh database with the demo users, orders and products.
    pub fn seeded() -> rusqlite::Result<Self> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, email TEXT,
                                 password_hash TEXT, role TEXT, ssn TEXT, phone TEXT);
             CREATE TABLE orders (id INTEGER PRIMARY KEY, owner TEXT, item TEXT, quantity INTEGER,
                                  price REAL, status TEXT, card_number TEXT);
             CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, description TEXT, price REAL);",
        )?;
        for (i, (user, password, role)) in crate::USERS.iter().enumerate() {
            db.execute(
                "INSERT INTO users (id, username, email, password_hash, role, ssn, phone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    i as i64 + 1,
                    user,
                    format!("{user}@example.com"),
                    weak_hash(password),
                    role,
                    format!("078-05-112{i}"),
                    format!("+1 415 555 01{i:02}")
                ],
            )?;
        }
        let orders = [
            (1, "alice", "Rust in Action", 1, 39.0),
            (2, "alice", "Zero to Production", 2, 45.0),
            (3, "bob", "The Rust Programming Language", 1, 29.5),
            (4, "admin", "Hacking APIs", 1, 49.99),
        ];
        for (id, owner, item, qty, price) in orders {
            db.execute(
                "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, 'placed', '4111111111111111')",
                params![id, owner, item, qty, price],
            )?;
        }
        for (id, name, desc, price) in [
            (1, "widget", "A small widget", 9.99),
            (2, "gadget", "A useful gadget", 19.99),
            (3, "gizmo", "An expensive gizmo", 99.0),
        ] {
            db.execute(
                "INSERT INTO products VALUES (?1, ?2, ?3, ?4)",
                params![id, name, desc, price],
            )?;
        }
        Ok(Self { db: Mutex::new(db) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&db)
    }

    /// Runs a query and returns rows as JSON objects.
    pub fn rows(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<Vec<Value>> {
        self.with(|db| {
            let mut stmt = db.prepare(sql)?;
            let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let rows = stmt.query_map(args, |row| {
                let mut obj = Map::new();
                for (i, n) in names.iter().enumerate() {
                    let v: rusqlite::types::Value = row.get(i)?;
                    obj.insert(n.clone(), to_json(v));
                }
                Ok(Value::Object(obj))
            })?;
            rows.collect()
        })
    }

    /// Executes a statement; returns the affected rows and last insert id.
    pub fn execute(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<(usize, i64)> {
        self.with(|db| {
            let n = db.execute(sql, args)?;
            Ok((n, db.last_insert_rowid()))
        })
    }
}

fn to_json(v: rusqlite::types::Value) -> Value {
    use rusqlite::types::Value as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => json!(i),
        V::Real(f) => json!(f),
        V::Text(t) => json!(t),
        V::Blob(b) => json!(b.len()),
    }
}
