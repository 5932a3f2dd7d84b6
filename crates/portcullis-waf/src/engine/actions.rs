//! Actions that change the transaction (`setvar`, `ctl`) and the disruptive ones, parsed once
//! at load time.

use super::template::Template;
use super::tx::TxNames;
use super::variables::Target;
use crate::body::Processor;

/// What a rule does when it matches, to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruptive {
    /// Continue.
    Pass,
    /// Refuse (status from `status:`, 403 by default).
    Deny,
    /// Close the connection.
    Drop,
}

/// The engine's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    /// Rules run and disruptive actions act.
    On,
    /// Rules run and log; nothing is refused.
    DetectionOnly,
    /// Rules do not run.
    Off,
}

impl EngineMode {
    /// Parses `On`, `Off` or `DetectionOnly`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            "detectiononly" => Ok(Self::DetectionOnly),
            _ => Err(format!(
                "engine mode {text:?} is not On, Off or DetectionOnly"
            )),
        }
    }
}

/// How `setvar` changes a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// `tx.x=v`.
    Set,
    /// `tx.x=+n`.
    Add,
    /// `tx.x=-n`.
    Subtract,
    /// `!tx.x`.
    Delete,
}

/// `setvar:tx.name=value` (name and value may hold macros).
#[derive(Debug, Clone)]
pub struct SetVar {
    /// The TX key.
    pub name: Template,
    /// The operation.
    pub op: SetOp,
    /// The value (for Add/Subtract, the number).
    pub value: Template,
    /// The name's number in the rule set's [`TxNames`], when it has no macros (set when the
    /// rule set is compiled).
    pub number: Option<u32>,
}

impl SetVar {
    /// Parses a `setvar` value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (delete, text) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (name, value) = text.split_once('=').unwrap_or((text, "1"));
        let Some((collection, key)) = name.split_once('.') else {
            return Err(format!("setvar:{text}: expected collection.name"));
        };
        if !collection.eq_ignore_ascii_case("tx") {
            return Err(format!(
                "setvar:{text}: only the TX collection is kept (persistent collections are not supported)"
            ));
        }
        let (op, value) = if delete {
            (SetOp::Delete, "")
        } else if let Some(v) = value.strip_prefix('+') {
            (SetOp::Add, v)
        } else if let Some(v) = value.strip_prefix('-') {
            (SetOp::Subtract, v)
        } else {
            (SetOp::Set, value)
        };
        Ok(Self {
            // TX keys are stored lowercase: the literal parts are lowered once, here (macro
            // names are case-insensitive, so lowering them too changes nothing).
            name: Template::parse(&key.to_ascii_lowercase())?,
            op,
            value: Template::parse(value)?,
            number: None,
        })
    }

    /// Numbers the TX names it writes and reads in `names`.
    pub fn number_tx(&mut self, names: &mut TxNames) {
        self.number = self.name.literal().map(|name| names.intern(name));
        self.name.number_tx(names);
        self.value.number_tx(names);
    }
}

/// Rule ids named by a `ctl` or directive: one id or a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange(pub u64, pub u64);

impl IdRange {
    /// Parses `942100` or `942100-942199`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a rule id or id range");
        let (a, b) = text
            .trim()
            .split_once('-')
            .unwrap_or((text.trim(), text.trim()));
        let (a, b) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        Ok(Self(a, b))
    }

    /// Whether `id` is in the range.
    pub fn contains(self, id: u64) -> bool {
        (self.0..=self.1).contains(&id)
    }
}

/// A `ctl:` action: changes engine behaviour for this transaction only.
#[derive(Debug, Clone)]
pub enum Ctl {
    /// `ruleEngine=`.
    RuleEngine(EngineMode),
    /// `ruleRemoveById=`.
    RemoveById(IdRange),
    /// `ruleRemoveByTag=`.
    RemoveByTag(String),
    /// `ruleRemoveTargetById=id;TARGET`.
    RemoveTargetById(IdRange, Target),
    /// `ruleRemoveTargetByTag=tag;TARGET`.
    RemoveTargetByTag(String, Target),
    /// `requestBodyProcessor=`.
    BodyProcessor(Processor),
    /// `forceRequestBodyVariable=On|Off`.
    ForceBodyVariable(bool),
    /// `requestBodyAccess=On|Off`.
    BodyAccess(bool),
    /// `auditEngine=` (there is no audit log; accepted and ignored).
    AuditEngine,
}

impl Ctl {
    /// Parses a `ctl` value (`ruleRemoveById=920540`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("ctl:{text}: expected option=value"))?;
        let on_off = |v: &str| match v.to_ascii_lowercase().as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(format!("ctl:{text}: expected On or Off")),
        };
        let with_target = |v: &str| -> Result<(String, Target), String> {
            let (what, target) = v
                .split_once(';')
                .ok_or_else(|| format!("ctl:{text}: expected rule;TARGET"))?;
            Ok((what.to_owned(), Target::parse(target)?))
        };
        Ok(match name {
            "ruleEngine" => Self::RuleEngine(EngineMode::parse(value)?),
            "ruleRemoveById" => Self::RemoveById(IdRange::parse(value)?),
            "ruleRemoveByTag" => Self::RemoveByTag(value.to_owned()),
            "ruleRemoveTargetById" => {
                let (id, t) = with_target(value)?;
                Self::RemoveTargetById(IdRange::parse(&id)?, t)
            }
            "ruleRemoveTargetByTag" => {
                let (tag, t) = with_target(value)?;
                Self::RemoveTargetByTag(tag, t)
            }
            "requestBodyProcessor" => Self::BodyProcessor(Processor::parse(value)?),
            "forceRequestBodyVariable" => Self::ForceBodyVariable(on_off(value)?),
            "requestBodyAccess" => Self::BodyAccess(on_off(value)?),
            "auditEngine" => Self::AuditEngine,
            other => return Err(format!("unsupported ctl option {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setvar_and_ctl_forms() {
        let s = SetVar::parse("tx.score=+%{tx.critical}").unwrap();
        assert_eq!(s.op, SetOp::Add);
        assert_eq!(SetVar::parse("!tx.x").unwrap().op, SetOp::Delete);
        assert_eq!(SetVar::parse("TX.x=-1").unwrap().op, SetOp::Subtract);
        assert!(SetVar::parse("ip.x=1").is_err());
        assert!(matches!(
            Ctl::parse("ruleRemoveTargetById=942100;ARGS:q").unwrap(),
            Ctl::RemoveTargetById(IdRange(942100, 942100), _)
        ));
        assert!(matches!(
            Ctl::parse("ruleRemoveById=920000-920999").unwrap(),
            Ctl::RemoveById(IdRange(920000, 920999))
        ));
        assert!(Ctl::parse("ruleEngine=Maybe").is_err());
        assert!(Ctl::parse("nope=1").is_err());
    }
}
