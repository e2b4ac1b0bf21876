//! The catalogue behind the TDS stand-in (`tds.rs`): logins (server-wide, with their
//! passwords), and per database its users, roles, schemas and granted permissions, which
//! Warden's statements change and its catalogue queries read, so that a create really makes
//! what the validation then finds and a delete really removes it. A STAND-IN, not SQL Server:
//! it runs the T-SQL Warden sends (the `warden-scripts` Synapse scripts and the adapter's
//! checks), read with sqlparser's MS SQL tokenizer (quoted names `[a]]b]`, `N'...'` literals
//! with doubled quotes), and answers anything else with error 102 (incorrect syntax).
//!
//! What it runs: `IF <condition> <statement>` (`[NOT] EXISTS (SELECT 1 FROM sys.sql_logins
//! WHERE name = N'x')`, `DATABASE_PRINCIPAL_ID(N'x') IS [NOT] NULL`, `SCHEMA_ID(N'x') IS [NOT]
//! NULL`, `@variable IS [NOT] NULL`); `CREATE LOGIN x WITH PASSWORD = N'...'` (in `master`);
//! `CREATE USER x FOR LOGIN y`; `CREATE SCHEMA x AUTHORIZATION y`; `CREATE ROLE x
//! [AUTHORIZATION y]`; `DROP LOGIN|USER|ROLE|SCHEMA x`; `GRANT p, ... TO x`; `EXEC(N'...')`;
//! `DECLARE @v ...`; `SELECT @v = ... FROM sys.objects ...` (no objects: NULL); `EXEC
//! sp_executesql @v`; `SELECT name FROM sys.sql_logins|database_principals|schemas WHERE name
//! = N'x'`; `SELECT HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'<permission>') [AS a], ...`.
//!
//! Permissions: an administrator login may do anything; any other login may create what its
//! database user was granted (`CREATE SCHEMA`, `CREATE ROLE`, `ALTER ANY USER`, ...), drop what
//! it owns, and never touch logins (15247). The SQL Server error numbers are the documented
//! ones: 15025 login exists, 15023 user or role exists, 2714 schema exists, 15151 cannot
//! drop (does not exist), 262 permission denied, 18456 login failed, 4060 no such database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use sqlparser::dialect::MsSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::tds::{Executor, ResultSet, Session, SqlError};

/// A database's principals and what they hold.
#[derive(Debug, Default, Clone)]
pub struct Database {
    /// Users: name -> login.
    pub users: BTreeMap<String, String>,
    /// Roles: name -> owner.
    pub roles: BTreeMap<String, String>,
    /// Schemas: name -> owner.
    pub schemas: BTreeMap<String, String>,
    /// Granted database permissions: (permission, principal).
    pub grants: BTreeSet<(String, String)>,
}

/// Everything the server holds.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Logins: name -> password.
    pub logins: BTreeMap<String, String>,
    /// Logins that may do anything.
    pub administrators: BTreeSet<String>,
    /// Databases by name (`master` included).
    pub databases: BTreeMap<String, Database>,
    /// Every batch run: (login, database, SQL).
    pub batches: Vec<(String, String, String)>,
    /// A fault for the tests: a batch containing this text is refused with error 262, as if
    /// the login lacked the permission.
    pub refuse_containing: Option<String>,
}

/// The stand-in's catalogue.
#[derive(Debug, Default)]
pub struct Catalogue {
    /// Its state, for the test to set up and read.
    pub state: Mutex<State>,
}

impl Catalogue {
    /// A server with `master` and `database`, and an administrator login `admin` with
    /// `password`.
    pub fn new(database: &str, admin: &str, password: &str) -> Self {
        let mut state = State::default();
        state.logins.insert(admin.to_owned(), password.to_owned());
        state.administrators.insert(admin.to_owned());
        state.databases.insert("master".into(), Database::default());
        state.databases.insert(database.to_owned(), Database::default());
        Self { state: Mutex::new(state) }
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> State {
        self.state.lock().expect("the catalogue").clone()
    }
}

fn error(number: u32, class: u8, message: impl Into<String>) -> SqlError {
    SqlError { number, class, message: message.into() }
}

fn syntax(near: &str) -> SqlError {
    error(102, 15, format!("Incorrect syntax near '{near}'."))
}

fn denied(what: &str) -> SqlError {
    error(262, 14, format!("{what} permission denied in database."))
}

/// The tokens of a batch, without whitespace and comments.
fn tokens(sql: &str) -> Result<Vec<Token>, SqlError> {
    let all = Tokenizer::new(&MsSqlDialect {}, sql).tokenize().map_err(|e| syntax(&e.to_string()))?;
    Ok(all.into_iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect())
}

/// A cursor over one batch's tokens, with the batch's variables.
struct Run<'a> {
    tokens: Vec<Token>,
    at: usize,
    state: &'a mut State,
    session: &'a Session,
    variables: BTreeMap<String, Option<String>>,
    results: Vec<ResultSet>,
}

impl Run<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn word(&mut self) -> Result<String, SqlError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w.value),
            other => Err(syntax(&other.map(|t| t.to_string()).unwrap_or_default())),
        }
    }

    /// Expects the keyword `word` (any case).
    fn keyword(&mut self, word: &str) -> Result<(), SqlError> {
        match self.next() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word) => Ok(()),
            other => Err(syntax(&other.map(|t| t.to_string()).unwrap_or_default())),
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: &Token) -> Result<(), SqlError> {
        match self.next() {
            Some(t) if &t == token => Ok(()),
            other => Err(syntax(&other.map(|t| t.to_string()).unwrap_or_default())),
        }
    }

    fn string(&mut self) -> Result<String, SqlError> {
        match self.next() {
            Some(Token::NationalStringLiteral(s) | Token::SingleQuotedString(s)) => Ok(s),
            other => Err(syntax(&other.map(|t| t.to_string()).unwrap_or_default())),
        }
    }

    /// Skips to the end of the statement (`;` or the end of the batch).
    fn skip_statement(&mut self) {
        while let Some(token) = self.peek() {
            if *token == Token::SemiColon {
                break;
            }
            self.at += 1;
        }
    }

    fn database(&mut self) -> &mut Database {
        self.state.databases.entry(self.session.database.clone()).or_default()
    }

    fn is_admin(&self) -> bool {
        self.state.administrators.contains(&self.session.login)
    }

    /// The database user of the session's login.
    fn user(&self) -> Option<String> {
        let database = self.state.databases.get(&self.session.database)?;
        database.users.iter().find(|(_, login)| **login == self.session.login).map(|(user, _)| user.clone())
    }

    fn may(&self, permission: &str) -> bool {
        self.is_admin()
            || self.user().is_some_and(|user| {
                self.state.databases.get(&self.session.database).is_some_and(|d| {
                    d.grants.contains(&(permission.to_owned(), user.clone()))
                        || (permission == "ALTER ANY SCHEMA" && d.grants.contains(&("CREATE SCHEMA".into(), user)))
                })
            })
    }

    fn require(&self, permission: &str) -> Result<(), SqlError> {
        if self.may(permission) { Ok(()) } else { Err(denied(permission)) }
    }

    fn run(&mut self) -> Result<(), SqlError> {
        while self.peek().is_some() {
            if self.peek() == Some(&Token::SemiColon) {
                self.at += 1;
                continue;
            }
            self.statement()?;
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<(), SqlError> {
        let first = self.word()?.to_ascii_uppercase();
        match first.as_str() {
            "IF" => {
                if self.condition()? {
                    self.statement()
                } else {
                    self.skip_statement();
                    Ok(())
                }
            }
            "CREATE" => self.create(),
            "DROP" => self.drop(),
            "GRANT" => self.grant(),
            "EXEC" | "EXECUTE" => self.exec(),
            "DECLARE" => {
                let name = self.word()?;
                self.skip_statement();
                self.variables.insert(name.to_ascii_lowercase(), None);
                Ok(())
            }
            "SELECT" => self.select(),
            other => Err(syntax(other)),
        }
    }

    fn condition(&mut self) -> Result<bool, SqlError> {
        if self.is_keyword("NOT") {
            self.at += 1;
            return self.condition().map(|held| !held);
        }
        if self.is_keyword("EXISTS") {
            self.at += 1;
            self.expect(&Token::LParen)?;
            self.keyword("SELECT")?;
            self.next();
            let found = self.lookup()?;
            self.expect(&Token::RParen)?;
            return Ok(found);
        }
        let subject = self.word()?;
        let present = if subject.starts_with('@') {
            self.variables.get(&subject.to_ascii_lowercase()).is_some_and(Option::is_some)
        } else {
            self.expect(&Token::LParen)?;
            let name = self.string()?;
            self.expect(&Token::RParen)?;
            let database = self.database();
            match subject.to_ascii_uppercase().as_str() {
                "DATABASE_PRINCIPAL_ID" => database.users.contains_key(&name) || database.roles.contains_key(&name),
                "SCHEMA_ID" => database.schemas.contains_key(&name),
                other => return Err(syntax(other)),
            }
        };
        self.keyword("IS")?;
        let negated = self.is_keyword("NOT");
        if negated {
            self.at += 1;
        }
        self.keyword("NULL")?;
        Ok(if negated { present } else { !present })
    }

    /// `FROM sys.<view> WHERE name = N'x'`: whether it has that row.
    fn lookup(&mut self) -> Result<bool, SqlError> {
        let (view, name) = self.view_and_name()?;
        Ok(self.rows_of(&view).contains(&name))
    }

    fn view_and_name(&mut self) -> Result<(String, String), SqlError> {
        self.keyword("FROM")?;
        self.keyword("sys")?;
        self.expect(&Token::Period)?;
        let view = self.word()?.to_ascii_lowercase();
        self.keyword("WHERE")?;
        self.keyword("name")?;
        self.expect(&Token::Eq)?;
        Ok((view, self.string()?))
    }

    fn rows_of(&self, view: &str) -> Vec<String> {
        let database = self.state.databases.get(&self.session.database).cloned().unwrap_or_default();
        match view {
            "sql_logins" => self.state.logins.keys().cloned().collect(),
            "database_principals" => database.users.keys().chain(database.roles.keys()).cloned().collect(),
            "schemas" => database.schemas.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn create(&mut self) -> Result<(), SqlError> {
        let kind = self.word()?.to_ascii_uppercase();
        let name = self.word()?;
        match kind.as_str() {
            "LOGIN" => {
                self.keyword("WITH")?;
                self.keyword("PASSWORD")?;
                self.expect(&Token::Eq)?;
                let password = self.string()?;
                if !self.is_admin() {
                    return Err(error(15247, 16, "User does not have permission to perform this action."));
                }
                if self.session.database != "master" {
                    return Err(error(15247, 16, "Logins are created in master."));
                }
                if self.state.logins.contains_key(&name) {
                    return Err(error(15025, 16, format!("The server principal '{name}' already exists.")));
                }
                self.state.logins.insert(name, password);
            }
            "USER" => {
                self.keyword("FOR")?;
                self.keyword("LOGIN")?;
                let login = self.word()?;
                self.require("ALTER ANY USER")?;
                if !self.state.logins.contains_key(&login) {
                    return Err(error(
                        15007,
                        16,
                        format!("'{login}' is not a valid login or you do not have permission."),
                    ));
                }
                let database = self.database();
                if database.users.contains_key(&name) || database.roles.contains_key(&name) {
                    return Err(error(
                        15023,
                        16,
                        format!("User, group, or role '{name}' already exists in the current database."),
                    ));
                }
                database.users.insert(name, login);
            }
            "SCHEMA" => {
                self.keyword("AUTHORIZATION")?;
                let owner = self.word()?;
                self.require("CREATE SCHEMA")?;
                let database = self.database();
                if database.schemas.contains_key(&name) {
                    return Err(error(2714, 16, format!("There is already an object named '{name}' in the database.")));
                }
                database.schemas.insert(name, owner);
            }
            "ROLE" => {
                let owner = if self.is_keyword("AUTHORIZATION") {
                    self.at += 1;
                    self.word()?
                } else {
                    self.user().unwrap_or_else(|| "dbo".into())
                };
                self.require("CREATE ROLE")?;
                let database = self.database();
                if database.users.contains_key(&name) || database.roles.contains_key(&name) {
                    return Err(error(
                        15023,
                        16,
                        format!("User, group, or role '{name}' already exists in the current database."),
                    ));
                }
                database.roles.insert(name, owner);
            }
            other => return Err(syntax(other)),
        }
        Ok(())
    }

    fn drop(&mut self) -> Result<(), SqlError> {
        let kind = self.word()?.to_ascii_uppercase();
        let name = self.word()?;
        let missing = || {
            error(
                15151,
                16,
                format!(
                    "Cannot drop the {} '{name}', because it does not exist or you do not have permission.",
                    kind.to_ascii_lowercase()
                ),
            )
        };
        let user = self.user();
        let admin = self.is_admin();
        if kind == "LOGIN" {
            if !admin {
                return Err(error(15247, 16, "User does not have permission to perform this action."));
            }
            return self.state.logins.remove(&name).map(drop).ok_or_else(missing);
        }
        let may_alter_users = self.may("ALTER ANY USER");
        let database = self.database();
        let owned = |owner: Option<&String>| admin || owner.is_some() && owner == user.as_ref();
        match kind.as_str() {
            "USER" if may_alter_users => database.users.remove(&name).map(drop).ok_or_else(missing),
            "ROLE" if owned(database.roles.get(&name)) => database.roles.remove(&name).map(drop).ok_or_else(missing),
            "SCHEMA" if owned(database.schemas.get(&name)) => {
                database.schemas.remove(&name).map(drop).ok_or_else(missing)
            }
            "USER" | "ROLE" | "SCHEMA" => Err(missing()),
            other => Err(syntax(other)),
        }
    }

    fn grant(&mut self) -> Result<(), SqlError> {
        let mut permissions = Vec::new();
        let mut current = Vec::new();
        loop {
            match self.next() {
                Some(Token::Comma) => permissions.push(std::mem::take(&mut current).join(" ")),
                Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("TO") => {
                    permissions.push(std::mem::take(&mut current).join(" "));
                    break;
                }
                Some(Token::Word(w)) => current.push(w.value.to_ascii_uppercase()),
                other => return Err(syntax(&other.map(|t| t.to_string()).unwrap_or_default())),
            }
        }
        let principal = self.word()?;
        if !self.is_admin() {
            return Err(denied("GRANT"));
        }
        let database = self.database();
        if !database.users.contains_key(&principal) && !database.roles.contains_key(&principal) {
            return Err(error(
                15151,
                16,
                format!("Cannot find the user '{principal}', because it does not exist or you do not have permission."),
            ));
        }
        for permission in permissions {
            database.grants.insert((permission, principal.clone()));
        }
        Ok(())
    }

    fn exec(&mut self) -> Result<(), SqlError> {
        let sql = if self.peek() == Some(&Token::LParen) {
            self.at += 1;
            let sql = self.string()?;
            self.expect(&Token::RParen)?;
            sql
        } else {
            self.keyword("sp_executesql")?;
            let variable = self.word()?.to_ascii_lowercase();
            self.variables.get(&variable).cloned().flatten().unwrap_or_default()
        };
        let mut inner = Run {
            tokens: tokens(&sql)?,
            at: 0,
            state: self.state,
            session: self.session,
            variables: BTreeMap::new(),
            results: Vec::new(),
        };
        inner.run()?;
        let results = std::mem::take(&mut inner.results);
        self.results.extend(results);
        Ok(())
    }

    fn select(&mut self) -> Result<(), SqlError> {
        // `SELECT @v = ...`: an assignment from sys.objects, which holds nothing here.
        if let Some(Token::Word(w)) = self.peek() {
            if w.value.starts_with('@') {
                let variable = w.value.to_ascii_lowercase();
                self.skip_statement();
                self.variables.insert(variable, None);
                return Ok(());
            }
            if w.value.eq_ignore_ascii_case("name") {
                self.at += 1;
                let (view, name) = self.view_and_name()?;
                let rows = self.rows_of(&view).into_iter().filter(|n| *n == name).map(|n| vec![Some(n)]).collect();
                self.results.push(ResultSet { columns: vec!["name".into()], rows });
                return Ok(());
            }
        }
        let mut columns = Vec::new();
        let mut row = Vec::new();
        loop {
            self.keyword("HAS_PERMS_BY_NAME")?;
            self.expect(&Token::LParen)?;
            self.keyword("NULL")?;
            self.expect(&Token::Comma)?;
            let class = self.string()?;
            self.expect(&Token::Comma)?;
            let permission = self.string()?;
            self.expect(&Token::RParen)?;
            if !class.eq_ignore_ascii_case("DATABASE") {
                return Err(syntax(&class));
            }
            let alias = if self.is_keyword("AS") {
                self.at += 1;
                self.word()?
            } else {
                String::new()
            };
            columns.push(alias);
            row.push(Some(if self.may(&permission.to_ascii_uppercase()) { "1" } else { "0" }.to_owned()));
            if self.peek() == Some(&Token::Comma) {
                self.at += 1;
            } else {
                break;
            }
        }
        self.results.push(ResultSet { columns, rows: vec![row] });
        Ok(())
    }
}

impl Executor for Catalogue {
    fn login(&self, login: &str, password: &str, database: &str) -> Result<(), SqlError> {
        let state = self.state.lock().expect("the catalogue");
        if state.logins.get(login).is_none_or(|p| p != password) {
            return Err(error(18456, 14, format!("Login failed for user '{login}'.")));
        }
        if !state.databases.contains_key(database) {
            return Err(error(
                4060,
                11,
                format!("Cannot open database \"{database}\" requested by the login. The login failed."),
            ));
        }
        Ok(())
    }

    fn execute(&self, session: &Session, sql: &str) -> Result<Vec<ResultSet>, SqlError> {
        let mut state = self.state.lock().expect("the catalogue");
        state.batches.push((session.login.clone(), session.database.clone(), sql.to_owned()));
        // A batch runs whole or not at all here (SQL Server would keep what ran before the
        // failing statement; Warden's batches are one statement or guarded, so the same).
        if state.refuse_containing.as_deref().is_some_and(|text| sql.contains(text)) {
            return Err(denied("The statement's"));
        }
        let mut draft = state.clone();
        let mut run = Run {
            tokens: tokens(sql)?,
            at: 0,
            state: &mut draft,
            session,
            variables: BTreeMap::new(),
            results: Vec::new(),
        };
        run.run()?;
        let results = std::mem::take(&mut run.results);
        let batches = std::mem::take(&mut state.batches);
        *state = draft;
        state.batches = batches;
        Ok(results)
    }
}
