//! Arguments of directives into typed parts: variable lists, operators, action lists.

use super::ast::{Action, Operator, RuleRef, Selector, Variable};
use super::vocabulary::{ACTIONS, CONTROLS, OPERATORS, TRANSFORMATIONS, VARIABLES};

/// Parses a target list such as `REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS|XML:/*`.
pub fn variables(text: &str) -> Result<Vec<Variable>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (exclude, count, body) = match rest.as_bytes()[0] {
            b'!' => (true, false, &rest[1..]),
            b'&' => (false, true, &rest[1..]),
            _ => (false, false, rest),
        };
        let name_end = body.find([':', '|']).unwrap_or(body.len());
        let name = body[..name_end].to_ascii_uppercase();
        if !VARIABLES.contains(&name.as_str()) {
            return Err(format!("unsupported variable {:?}", &body[..name_end]));
        }
        let mut after = &body[name_end..];
        let selector = match after.strip_prefix(':') {
            None => Selector::All,
            Some(sel) if name != "XML" && sel.starts_with('/') => {
                let end = closing_slash(sel)
                    .ok_or_else(|| format!("unterminated regex selector in {text:?}"))?;
                after = &sel[end + 1..];
                Selector::Regex(sel[1..end].to_owned())
            }
            Some(sel) => {
                let end = sel.find('|').unwrap_or(sel.len());
                after = &sel[end..];
                let key = sel[..end].trim_matches('\'');
                if key.is_empty() {
                    return Err(format!("empty selector after {name}: in {text:?}"));
                }
                Selector::Key(key.to_owned())
            }
        };
        out.push(Variable {
            exclude,
            count,
            name,
            selector,
        });
        rest = match after.strip_prefix('|') {
            Some(r) if !r.is_empty() => r,
            Some(_) => return Err(format!("target list {text:?} ends with '|'")),
            None if after.is_empty() => "",
            None => return Err(format!("unexpected {after:?} in target list")),
        };
    }
    if out.is_empty() {
        return Err("empty target list".into());
    }
    Ok(out)
}

/// The index of the `/` closing a regex that starts at `s[0]`.
fn closing_slash(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'/' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Parses an operator such as `!@rx ^a`, `@pmFromFile words.data` or a bare regex.
pub fn operator(text: &str) -> Result<Operator, String> {
    let (negated, body) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some(named) = body.strip_prefix('@') else {
        return Ok(Operator {
            negated,
            name: "rx".into(),
            argument: body.to_owned(),
        });
    };
    let (name, argument) = named.split_once([' ', '\t']).unwrap_or((named, ""));
    if !OPERATORS.contains(&name) {
        return Err(format!("unsupported operator @{name}"));
    }
    Ok(Operator {
        negated,
        name: name.to_owned(),
        argument: argument.trim_start().to_owned(),
    })
}

/// Parses an action list such as `id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+1'`.
pub fn actions(text: &str) -> Result<Vec<Action>, String> {
    let mut out = Vec::new();
    for item in split_actions(text)? {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, value) = match item.split_once(':') {
            Some((n, v)) => (n.trim(), unquote(v.trim())),
            None => (item, String::new()),
        };
        check_action(name, &value)?;
        out.push(Action {
            name: name.to_owned(),
            value,
        });
    }
    Ok(out)
}

/// Splits on commas outside single quotes.
fn split_actions(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'\'' => quoted = !quoted,
            b',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return Err(format!("unterminated quote in actions {text:?}"));
    }
    out.push(&text[start..]);
    Ok(out)
}

/// A value without its surrounding single quotes (`\'` inside is a quote).
fn unquote(v: &str) -> String {
    match v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(inner) => inner.replace("\\'", "'"),
        None => v.to_owned(),
    }
}

fn check_action(name: &str, value: &str) -> Result<(), String> {
    if !ACTIONS.contains(&name) {
        return Err(format!("unsupported action {name:?}"));
    }
    match name {
        "id" => value
            .parse::<u64>()
            .map(drop)
            .map_err(|_| format!("id must be a number, not {value:?}")),
        "phase" => match value {
            "1" | "2" | "3" | "4" | "5" | "request" | "response" | "logging" => Ok(()),
            _ => Err(format!(
                "phase must be 1-5, request, response or logging, not {value:?}"
            )),
        },
        "t" if !TRANSFORMATIONS.contains(&value) => {
            Err(format!("unsupported transformation {value:?}"))
        }
        "ctl" => {
            let option = value.split('=').next().unwrap_or("");
            if CONTROLS.contains(&option) {
                Ok(())
            } else {
                Err(format!("unsupported ctl option {option:?}"))
            }
        }
        "severity" => match value {
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "EMERGENCY" | "ALERT" | "CRITICAL"
            | "ERROR" | "WARNING" | "NOTICE" | "INFO" | "DEBUG" => Ok(()),
            _ => Err(format!("unknown severity {value:?}")),
        },
        "setvar" => {
            let target = value.trim_start_matches('!');
            let var = target.split('=').next().unwrap_or("");
            if var.contains('.') && !var.starts_with('.') && !var.ends_with('.') {
                Ok(())
            } else {
                Err(format!(
                    "setvar needs collection.name[=value], not {value:?}"
                ))
            }
        }
        "status" => value
            .parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .map(drop)
            .ok_or_else(|| format!("status must be an HTTP status, not {value:?}")),
        "skipAfter" | "msg" | "tag" | "ver" | "initcol" if value.is_empty() => {
            Err(format!("{name} needs a value"))
        }
        _ => Ok(()),
    }
}

/// Parses rule references such as `920100 920200-920299` (ids and ranges).
pub fn rule_ids(args: &[String]) -> Result<Vec<RuleRef>, String> {
    let mut out = Vec::new();
    for arg in args.iter().flat_map(|a| a.split([' ', ','])) {
        if arg.is_empty() {
            continue;
        }
        let r = match arg.split_once('-') {
            Some((a, b)) => match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) if a <= b => RuleRef::Range(a, b),
                _ => return Err(format!("invalid id range {arg:?}")),
            },
            None => RuleRef::Id(
                arg.parse()
                    .map_err(|_| format!("invalid rule id {arg:?}"))?,
            ),
        };
        out.push(r);
    }
    if out.is_empty() {
        return Err("no rule id given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_with_selectors_exclusions_and_counts() {
        let v = variables(
            "REQUEST_COOKIES|!REQUEST_COOKIES:/__utm|x/|&ARGS|XML:/*|request_headers:User-Agent",
        )
        .unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[1].selector, Selector::Regex("__utm|x".into()));
        assert!(v[1].exclude && v[2].count);
        assert_eq!(v[3].selector, Selector::Key("/*".into()));
        assert_eq!(v[4].name, "REQUEST_HEADERS");
        assert!(variables("ARGS|").is_err());
        assert!(variables("NOPE")
            .unwrap_err()
            .contains("unsupported variable"));
        assert!(variables("ARGS:/unterminated").is_err());
    }

    #[test]
    fn operators_and_actions() {
        let o = operator("!@pmFromFile words.data").unwrap();
        assert!(o.negated && o.name == "pmFromFile" && o.argument == "words.data");
        assert_eq!(operator("^a+$").unwrap().name, "rx");
        assert!(operator("@nope x").is_err());
        let a = actions("id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+%{tx.y}',block").unwrap();
        assert_eq!(a[3].value, "a, b");
        assert_eq!(a[4].value, "tx.x=+%{tx.y}");
        assert_eq!(a[5].name, "block");
        for bad in [
            "id:x",
            "phase:9",
            "t:rot13",
            "ctl:nope=1",
            "frobnicate",
            "msg:'open",
            "setvar:x",
        ] {
            assert!(actions(bad).is_err(), "{bad}");
        }
        assert_eq!(
            rule_ids(&["1 5-7".into()]).unwrap(),
            [RuleRef::Id(1), RuleRef::Range(5, 7)]
        );
    }
}
