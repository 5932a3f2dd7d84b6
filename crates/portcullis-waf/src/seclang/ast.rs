//! Typed SecLang: what a rule file says, checked against the vocabulary the engine implements.

use std::path::PathBuf;

/// Where a directive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// 1-based line where the directive starts.
    pub line: usize,
}

/// One variable of a rule's target list (`!ARGS:foo`, `&TX:x`, `REQUEST_COOKIES:/^__utm/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// `!`: remove this target from the list.
    pub exclude: bool,
    /// `&`: the number of values instead of the values.
    pub count: bool,
    /// The collection or variable name, uppercase (`ARGS`, `REQUEST_HEADERS`, `TX`).
    pub name: String,
    /// Which members.
    pub selector: Selector,
}

/// Which members of a collection a variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// All of them.
    All,
    /// The one with this key (case-insensitive for most collections).
    Key(String),
    /// Those whose key matches this regex (`/.../`).
    Regex(String),
}

/// A rule's operator (`!@rx pattern`; a bare pattern is `@rx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// `!`: the rule matches when the operator does not.
    pub negated: bool,
    /// The operator name (`rx`, `pm`, `detectSQLi`, ...).
    pub name: String,
    /// Its argument, as written (macros not expanded).
    pub argument: String,
}

/// One action (`id:942100`, `t:lowercase`, `setvar:'tx.score=+%{tx.critical}'`, `block`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The action name.
    pub name: String,
    /// Its value, unquoted (empty for flags).
    pub value: String,
}

/// A `SecRule`, with the rules chained to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where it is.
    pub place: Place,
    /// What it inspects.
    pub variables: Vec<Variable>,
    /// How.
    pub operator: Operator,
    /// What it does.
    pub actions: Vec<Action>,
    /// The next rule of its chain (`chain` action), if any.
    pub chained: Option<Box<Rule>>,
}

impl Rule {
    /// The value of the first action named `name`.
    pub fn action(&self, name: &str) -> Option<&str> {
        self.actions
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The rule id (`id:` action), if it has one.
    pub fn id(&self) -> Option<u64> {
        self.action("id").and_then(|v| v.parse().ok())
    }
}

/// One directive of a rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `SecRule` (with its chain).
    Rule(Rule),
    /// `SecAction`: actions that always run.
    Action(Place, Vec<Action>),
    /// `SecMarker`: a target for `skipAfter`.
    Marker(Place, String),
    /// `SecDefaultAction`: actions added to the rules of a phase that follow.
    DefaultAction(Place, Vec<Action>),
    /// `SecRuleUpdateTargetById` / `ByTag`: targets added to (or, with `!`, removed from)
    /// rules already defined.
    UpdateTarget {
        /// Where it is.
        place: Place,
        /// The rules: an id (or range) or a tag.
        rules: RuleRef,
        /// The targets.
        targets: Vec<Variable>,
    },
    /// `SecRuleRemoveById` / `ByTag`: rules removed.
    Remove(Place, Vec<RuleRef>),
    /// An engine setting (`SecRuleEngine`, body access and limits, ...): name and arguments.
    Setting(Place, String, Vec<String>),
}

/// A reference to rules by id, id range or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleRef {
    /// One id.
    Id(u64),
    /// Ids from .. to (inclusive).
    Range(u64, u64),
    /// Rules carrying this tag (a regex in ModSecurity; matched as such).
    Tag(String),
}
